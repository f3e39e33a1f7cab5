"""``triage keys create|revoke`` and the development keys ``triage bootstrap`` prints once (as shell exports).

A key's secret is printed once on stdout and never stored; creation and revocation are audited under the
operator's login (``cli:<user>``), without the secret.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import TYPE_CHECKING

from triage.config import Settings, get_settings
from triage.core.actors import Actor, Role
from triage.core.errors import TriageError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from triage.domain.auth.schemas import ApiKeyRead
    from triage.domain.auth.services import KeyService

DEV_SUBJECT_PREFIX = "dev-"


def _sessions(settings: Settings) -> sessionmaker[Session]:
    from triage.db.engine import create_db_engine, create_session_factory
    from triage.db.migrate import upgrade_database

    upgrade_database(settings.resolved_database_url)
    return create_session_factory(create_db_engine(settings.resolved_database_url))


def _key_service(sessions: sessionmaker[Session]) -> KeyService:
    from triage.domain.auth.repositories import ApiKeyRepository
    from triage.domain.auth.services import KeyService

    return KeyService(ApiKeyRepository(sessions))


def _audit(settings: Settings, sessions: sessionmaker[Session], action: str, key: ApiKeyRead) -> None:
    from triage.domain.audit.schemas import AuditEntryCreate
    from triage.domain.audit.services import AuditService

    details: dict[str, object] = {
        "key_id": key.key_id,
        "prefix": key.prefix,
        "role": key.role.value,
        "subject": key.subject,
        "teams": list(key.teams),
    }
    AuditService(sessions, settings.audit_signing_key).append_now(
        [AuditEntryCreate(action=action, actor=Actor.operator(), outcome="ok", details=details)]
    )


def _teams(raw: str | None) -> list[str]:
    return [team.strip() for team in (raw or "").split(",") if team.strip()]


def run_keys_create(args: argparse.Namespace) -> int:
    """Create a key for ``--role`` and ``--subject`` (``--teams a,b``); prints the key once on stdout."""
    settings = get_settings()
    try:
        sessions = _sessions(settings)
        service = _key_service(sessions)
        created = service.create(args.role, args.subject, _teams(getattr(args, "teams", "")))
        read = service.store.get(created.key_id)
        assert read is not None
        try:
            _audit(settings, sessions, "key.created", read.to_read())
        except TriageError:
            service.revoke(created.key_id)  # never leave a key that the audit log does not know about
            raise
    except TriageError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 2
    print(created.key)
    teams = ",".join(created.teams) or "-"
    print(
        f"created key {created.key_id} ({created.prefix}...) role={created.role.value} "
        f"subject={created.subject} teams={teams}; the key is shown only this once",
        file=sys.stderr,
    )
    return 0


def run_keys_revoke(args: argparse.Namespace) -> int:
    """Revoke ``key_id`` at once; its next request is refused with 401."""
    settings = get_settings()
    try:
        sessions = _sessions(settings)
        revoked = _key_service(sessions).revoke(args.key_id)
        _audit(settings, sessions, "key.revoked", revoked)
    except TriageError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 2
    print(f"revoked key {revoked.key_id} ({revoked.prefix}...) of {revoked.subject}", file=sys.stderr)
    return 0


def _all_teams(settings: Settings) -> list[str]:
    from triage.engines.policy.taxonomy import load_taxonomy

    taxonomy = load_taxonomy(settings.taxonomy_file)
    return sorted({category.owner_team for category in taxonomy.categories.values()})


def create_dev_keys(settings: Settings, sessions: sessionmaker[Session]) -> dict[str, str]:
    """One key per role (``dev-<role>``), only when the database has no key at all; ``{}`` otherwise.

    The development agent and supervisor belong to every team of the taxonomy, so every queue is visible.
    Refused outside development: production keys are created one by one with ``triage keys create``.
    """
    if settings.environment == "production":
        return {}
    service = _key_service(sessions)
    if service.has_keys():
        return {}
    teams = _all_teams(settings)
    keys: dict[str, str] = {}
    for role in Role:
        with_teams = teams if role in {Role.AGENT, Role.SUPERVISOR} else []
        created = service.create(role, f"{DEV_SUBJECT_PREFIX}{role.value}", with_teams)
        record = service.store.get(created.key_id)
        assert record is not None
        _audit(settings, sessions, "key.created", record.to_read())
        keys[role.value] = created.key
    return keys


def export_lines(keys: dict[str, str]) -> list[str]:
    """``export WORKFLOW_KEY=...``, one line per role's key: ready to paste into a shell (or ``eval``)."""
    return [f"export {role.upper()}_KEY={shlex.quote(key)}" for role, key in keys.items()]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``keys`` and its subcommands to the ``triage`` parser."""
    keys = subparsers.add_parser("keys", help="API keys").add_subparsers(
        dest="keys_command", required=True, metavar="WHAT"
    )
    create = keys.add_parser("create", help="create an API key (printed once)")
    create.add_argument("--role", required=True, choices=[role.value for role in Role])
    create.add_argument("--subject", required=True)
    create.add_argument("--teams", default="", help="comma-separated teams whose queues the key may see")
    create.set_defaults(target="triage.commands.keys:run_keys_create")
    revoke = keys.add_parser("revoke", help="revoke an API key")
    revoke.add_argument("key_id")
    revoke.set_defaults(target="triage.commands.keys:run_keys_revoke")
