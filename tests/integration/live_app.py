"""The real app over its test client, on a home built once per test process by ``triage bootstrap``.

Bootstrapping (training the default model, indexing the history) is the slow part, so it runs once into a
template home; every caller gets a private copy, so tests that write cases or poison the case store do not
see each other. Keys for every role are created fresh in each copy; agent and supervisor keys belong to every
team of the taxonomy unless a test says otherwise.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import TestClient

from triage.config import Settings, get_settings
from triage.core.actors import Role
from triage.domain.auth.services import KeyService
from triage.wiring import ServiceRegistry, Services

STARTUP_TIMEOUT_S = 300.0
WORKFLOW, AGENT, SUPERVISOR, COMPLIANCE, ADMIN = (
    Role.WORKFLOW,
    Role.AGENT,
    Role.SUPERVISOR,
    Role.COMPLIANCE,
    Role.ADMIN,
)


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()


QUIET_INTERVALS = (
    "policy_poll_interval_s",
    "escalation_interval_s",
    "audit_anchor_interval_s",
    "store_retry_interval_s",
)
SHIPPED_HISTORY = Path("eval/datasets/order_exceptions/history.jsonl")
HISTORY_STRIDE = 4
TEMPLATE_ENV = "TRIAGE_TEST_TEMPLATE_HOME"


def history_subset(folder: Path) -> Path:
    """Every fourth shipped history case: the same labels and resolutions, a quarter of the embedding work."""
    path = folder / "history-subset.jsonl"
    if not path.exists():
        lines = SHIPPED_HISTORY.read_text(encoding="utf-8").splitlines(keepends=True)
        path.write_text("".join(lines[::HISTORY_STRIDE]), encoding="utf-8")
    return path


@cache
def bootstrapped_home() -> Path:
    """A home prepared by ``triage bootstrap`` (model, history collection, schema), once per process.

    ``TRIAGE_TEST_TEMPLATE_HOME`` names a folder to keep the template in across runs (local iteration);
    it is bootstrapped when it has no ``home`` yet.
    """
    from triage.cli import main

    kept = os.environ.get(TEMPLATE_ENV)
    root = Path(kept) if kept else Path(tempfile.mkdtemp(prefix="triage-auth-template-"))
    root.mkdir(parents=True, exist_ok=True)
    home = root / "home"
    history = history_subset(root)
    if kept and (home / "triage.db").exists():
        return home
    environment = {
        "TRIAGE_HOME": str(home),
        "TRIAGE_ENVIRONMENT": "test",
        "TRIAGE_HISTORY_FILE": str(history),
    }
    with _environment(**environment), contextlib.redirect_stdout(None):
        code = main(["bootstrap"])
    assert code == 0, "triage bootstrap failed; see stderr"
    return home


def template_history() -> Path:
    """The history file the template home was trained and indexed on."""
    return history_subset(bootstrapped_home().parent)


def fresh_home(parent: Path) -> Path:
    """A private copy of the bootstrapped home under ``parent``."""
    home = parent / "home"
    shutil.copytree(bootstrapped_home(), home)
    return home


def app_routes(app: Litestar) -> list[tuple[str, str, dict[str, Any]]]:
    """Every ``(METHOD, path template, handler opt)`` the app serves, Litestar's own OPTIONS included."""
    routes = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            for method in sorted(handler.http_methods):
                routes.append((method, route.path_format, dict(handler.opt)))
    return sorted(routes)


@dataclass
class LiveApp:
    client: TestClient[Litestar]
    app: Litestar
    settings: Settings
    registry: ServiceRegistry
    key_service: KeyService
    tokens: dict[Role, str]
    revoked_token: str
    teams: tuple[str, ...]

    @property
    def services(self) -> Services:
        return self.registry.require()

    def auth(self, role: Role | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"} if role is not None else {}

    def new_key(self, role: Role, subject: str, teams: tuple[str, ...] | None = None) -> str:
        default = self.teams if role in {AGENT, SUPERVISOR} else ()
        return self.key_service.create(role, subject, default if teams is None else teams).key


def all_teams(settings: Settings) -> tuple[str, ...]:
    from triage.engines.policy.taxonomy import load_taxonomy

    taxonomy = load_taxonomy(settings.taxonomy_file)
    return tuple(sorted({category.owner_team for category in taxonomy.categories.values()}))


@contextlib.contextmanager
def live_app(parent: Path, **overrides: Any) -> Iterator[LiveApp]:
    """The app on a fresh home under ``parent``, started (model loaded) and with one key per role."""
    from triage.app import create_app

    home = fresh_home(parent)
    values: dict[str, Any] = {
        "home": home,
        "environment": "test",
        "history_file": template_history(),
        "rate_limit_per_minute": 100_000,
        "rate_limit_per_address_per_minute": 1_000_000,
        # No background job runs on its own in tests: a test that needs one runs it (``run_jobs``).
        **dict.fromkeys(QUIET_INTERVALS, 24 * 3600.0),
    }
    values.update(overrides)
    settings = Settings(**values)
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False, timeout=120) as client:
        registry: ServiceRegistry = app.state["registry"]
        readiness = registry.readiness
        assert readiness.started.wait(STARTUP_TIMEOUT_S), "the services did not start in time"
        assert readiness.ready, f"the services failed to start: {readiness.error}"
        key_service = registry.require().keys
        teams = all_teams(settings)
        tokens = {
            role: key_service.create(
                role, f"test-{role.value}", teams if role in {AGENT, SUPERVISOR} else ()
            ).key
            for role in Role
        }
        revoked = key_service.create(SUPERVISOR, "test-revoked", teams)
        key_service.revoke(revoked.key_id)
        yield LiveApp(client, app, settings, registry, key_service, tokens, revoked.key, teams)
