"""The desk served for real: the app on uvicorn on 127.0.0.1 (a thread), on a private copy of the bootstrapped
home, with keys for each role and team, and headless Chromium driven through Playwright.

Chromium is Debian's (``/usr/bin/chromium``, or ``PLAYWRIGHT_CHROMIUM_EXECUTABLE``); Playwright never
downloads a browser here. Tests skip, saying why, when it is missing.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from tests.integration.live_app import QUIET_INTERVALS, STARTUP_TIMEOUT_S, fresh_home, template_history
from triage.config import Settings
from triage.core.actors import Role
from triage.wiring import ServiceRegistry

CHROMIUM_ENV = "PLAYWRIGHT_CHROMIUM_EXECUTABLE"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
TEST_EVENTS = Path("eval/datasets/order_exceptions/test.jsonl")
SCREENSHOTS = Path("docs/screenshots")


def chromium_executable() -> str | None:
    """Debian's Chromium (or the one ``PLAYWRIGHT_CHROMIUM_EXECUTABLE`` names), if it is there."""
    for candidate in (os.environ.get(CHROMIUM_ENV), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def browser_unavailable_reason() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[test]')"
    if chromium_executable() is None:
        return f"no Chromium at /usr/bin/chromium or ${CHROMIUM_ENV} (apt-get install chromium; .ci/run does)"
    return None


@cache
def events_by_label() -> dict[str, list[dict[str, Any]]]:
    """The shipped test events, grouped by their true label."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for line in TEST_EVENTS.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        grouped.setdefault(row["label"], []).append(row["event"])
    return grouped


_counter = itertools.count()


def event_of(label: str, **changes: Any) -> dict[str, Any]:
    """A fresh copy of a shipped event of ``label`` (a new event_id each time; ``changes`` override)."""
    pool = events_by_label()[label]
    event = json.loads(json.dumps(pool[next(_counter) % len(pool)]))
    event["event_id"] = f"desk-{uuid.uuid4().hex[:12]}"
    minutes = 20 + (next(_counter) * 37) % 600
    event["occurred_at"] = (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat(timespec="seconds")
    event.update(changes)
    return event


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Desk:
    """A running desk: its URL, the API keys by name, and an API client for setting cases up."""

    base_url: str
    settings: Settings
    registry: ServiceRegistry
    keys: dict[str, str] = field(default_factory=dict)

    def api(self, key_name: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url, headers={"Authorization": f"Bearer {self.keys[key_name]}"}, timeout=120
        )

    def new_key(self, name: str, role: Role, teams: tuple[str, ...] = ()) -> str:
        self.keys[name] = self.registry.require().keys.create(role, name, teams).key
        return self.keys[name]

    def triage(self, event: dict[str, Any]) -> dict[str, Any]:
        with self.api("workflow") as client:
            response = client.post("/v1/exceptions", json=event)
        assert response.status_code == 201, response.text
        return dict(response.json())


def _serve(app: Any, port: int) -> tuple[uvicorn.Server, threading.Thread]:
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="desk-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    return server, thread


@contextlib.contextmanager
def desk_server(parent: Path, **overrides: Any) -> Iterator[Desk]:
    """The app served by uvicorn on 127.0.0.1 on a fresh copy of the bootstrapped home, started, with keys:
    ``workflow``, ``compliance``, ``admin``, ``supervisor`` (every team) and ``agent`` (every team)."""
    from triage.app import create_app
    from triage.engines.policy.taxonomy import load_taxonomy

    values: dict[str, Any] = {
        "home": fresh_home(parent),
        "environment": "test",
        "history_file": template_history(),
        "rate_limit_per_minute": 100_000,
        "rate_limit_per_address_per_minute": 1_000_000,
        **dict.fromkeys(QUIET_INTERVALS, 24 * 3600.0),
        **overrides,
    }
    settings = Settings(**values)
    app = create_app(settings)
    port = free_port()
    server, thread = _serve(app, port)
    try:
        registry: ServiceRegistry = app.state["registry"]
        assert registry.readiness.started.wait(STARTUP_TIMEOUT_S), "the services did not start in time"
        assert registry.readiness.ready, f"the services failed to start: {registry.readiness.error}"
        teams = tuple(sorted(load_taxonomy(settings.taxonomy_file).teams))
        desk = Desk(f"http://127.0.0.1:{port}", settings, registry)
        desk.new_key("workflow", Role.WORKFLOW)
        desk.new_key("compliance", Role.COMPLIANCE)
        desk.new_key("admin", Role.ADMIN)
        desk.new_key("supervisor", Role.SUPERVISOR, teams)
        desk.new_key("agent", Role.AGENT, teams)
        yield desk
    finally:
        server.should_exit = True
        thread.join(timeout=30)
