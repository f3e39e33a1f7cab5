"""``triage webhooks``: manage webhook subscriptions and their dead letters from the command line (admin).

Every change is audited under the operator's name (``cli:<user>``), as the API audits admin calls.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from triage.config import get_settings
from triage.core.actors import Actor, Role
from triage.core.errors import TriageError

if TYPE_CHECKING:
    from triage.domain.events.webhooks import WebhookService

EXIT_ERROR = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``webhooks`` and its subcommands to the ``triage`` parser."""
    hooks = subparsers.add_parser("webhooks", help="webhook subscriptions and dead letters").add_subparsers(
        dest="webhooks_command", required=True, metavar="WHAT"
    )
    create = hooks.add_parser("create", help="subscribe a URL (prints the signing secret once)")
    create.add_argument("--url", required=True)
    create.add_argument("--type", dest="types", action="append", default=[], help="an event type (repeat)")
    create.set_defaults(target="triage.commands.webhooks:run_create")
    hooks.add_parser("list", help="the subscriptions").set_defaults(
        target="triage.commands.webhooks:run_list"
    )
    rotate = hooks.add_parser("rotate-secret", help="a new secret; the old one signs too for --grace-s")
    rotate.add_argument("webhook_id")
    rotate.add_argument("--grace-s", type=int, default=24 * 3600)
    rotate.set_defaults(target="triage.commands.webhooks:run_rotate")
    disable = hooks.add_parser("disable", help="stop sending to a webhook")
    disable.add_argument("webhook_id")
    disable.set_defaults(target="triage.commands.webhooks:run_disable")
    dead = hooks.add_parser("dead-letters", help="deliveries that failed every attempt")
    dead.add_argument("--webhook-id", default=None)
    dead.set_defaults(target="triage.commands.webhooks:run_dead_letters")
    again = hooks.add_parser("redeliver", help="queue a delivery again")
    again.add_argument("delivery_id", type=int)
    again.set_defaults(target="triage.commands.webhooks:run_redeliver")


def _service() -> WebhookService:
    from triage.db.engine import create_session_factory
    from triage.db.migrate import upgrade_database
    from triage.domain.audit.services import AuditService
    from triage.domain.events.webhooks import WebhookService
    from triage.wiring import delivery_policy

    settings = get_settings()
    upgrade_database(settings.resolved_database_url)
    sessions = create_session_factory(settings.resolved_database_url)
    return WebhookService(sessions, AuditService(sessions, settings), delivery_policy(settings))


def _print(value: Any) -> int:
    print(json.dumps(value, default=str, indent=2))
    return 0


def _run(action: Any) -> int:
    try:
        return _print(action())
    except TriageError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return EXIT_ERROR


def run_create(args: argparse.Namespace) -> int:
    from triage.domain.events.schemas import WebhookCreate

    body = WebhookCreate.model_validate({"url": args.url, "types": args.types})
    return _run(lambda: _service().create(body, Actor.operator(Role.ADMIN)).model_dump(mode="json"))


def run_list(args: argparse.Namespace) -> int:
    return _run(lambda: [w.model_dump(mode="json") for w in _service().subscriptions()])


def run_rotate(args: argparse.Namespace) -> int:
    return _run(
        lambda: (
            _service()
            .rotate_secret(args.webhook_id, args.grace_s, Actor.operator(Role.ADMIN))
            .model_dump(mode="json")
        )
    )


def run_disable(args: argparse.Namespace) -> int:
    return _run(
        lambda: _service().disable(args.webhook_id, Actor.operator(Role.ADMIN)).model_dump(mode="json")
    )


def run_dead_letters(args: argparse.Namespace) -> int:
    from triage.domain.events.schemas import DeliveryStatus

    return _run(
        lambda: [
            d.model_dump(mode="json")
            for d in _service().deliveries(DeliveryStatus.DEAD, args.webhook_id, 500)
        ]
    )


def run_redeliver(args: argparse.Namespace) -> int:
    return _run(
        lambda: _service().redeliver(args.delivery_id, Actor.operator(Role.ADMIN)).model_dump(mode="json")
    )
