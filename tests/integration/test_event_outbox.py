"""Events: written with the change they report (outbox), read through the feed in order, and delivered to
webhooks signed per Standard Webhooks — verified by a real loopback receiver with the ``standardwebhooks``
package — with retries, dead letters, redelivery, secret rotation and SSRF protection."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks import Webhook, WebhookVerificationError

from tests.factories import make_event, make_record
from triage.core.actors import Actor, Role
from triage.core.clock import utc_now
from triage.core.errors import InvalidInput
from triage.domain.audit.services import AuditService
from triage.domain.cases.schemas import ResolutionCreate
from triage.domain.cases.services import CaseService
from triage.domain.events.schemas import DeliveryStatus, EventCreate, EventType, WebhookCreate
from triage.domain.events.services import EventOutbox
from triage.domain.events.webhooks import DeliveryPolicy, DeliveryWorker, WebhookService
from triage.domain.reviews.schemas import DecisionCreate
from triage.domain.reviews.services import ReviewService
from triage.engines.drafting import Drafter
from triage.engines.policy import PolicyStore

ROOT = Path(__file__).resolve().parents[2]
ADMIN = Actor(subject="ops", role=Role.ADMIN)
AGENT = Actor(subject="alice", role=Role.AGENT, teams=("fulfillment",))
WORKFLOW = Actor(subject="erp", role=Role.WORKFLOW)
LOOPBACK = ("127.0.0.0/8",)


@dataclass
class Receiver:
    """A loopback webhook endpoint: answers with the scripted statuses, then 204; records every request."""

    statuses: list[int] = field(default_factory=list)
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/triage"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            state.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(state.statuses.pop(0) if state.statuses else 204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()


@pytest.fixture
def policy() -> DeliveryPolicy:
    return DeliveryPolicy(source="urn:test", allowed_networks=LOOPBACK, max_attempts=3, retry_base_s=0.001)


@pytest.fixture
def webhooks(
    sessions: sessionmaker[Session], audit_service: AuditService, policy: DeliveryPolicy
) -> WebhookService:
    return WebhookService(sessions, audit_service, policy)


@pytest.fixture
def worker(sessions: sessionmaker[Session], policy: DeliveryPolicy) -> DeliveryWorker:
    return DeliveryWorker(sessions, policy)


@pytest.fixture
def review_service(
    sessions: sessionmaker[Session], audit_service: AuditService, event_outbox: EventOutbox, drafter: Drafter
) -> ReviewService:
    policies = PolicyStore(
        ROOT / "guardrails" / "policy.yaml", taxonomy_file=ROOT / "guardrails" / "taxonomy.yaml"
    )
    return ReviewService(sessions, audit_service, policies, event_outbox, drafter)


def verified(receiver: Receiver, secret: str) -> list[dict[str, Any]]:
    """Every received body whose Standard Webhooks signature verifies with ``secret``."""
    events = []
    for headers, body in receiver.requests:
        events.append(Webhook(secret).verify(body, headers))
    return events


def test_a_triage_a_decision_and_a_resolution_are_events_in_order(
    case_service: CaseService, review_service: ReviewService, event_outbox: EventOutbox
) -> None:
    record = make_record()
    case_service.create(record)
    pending = next(i for i in record.items if i.status == "pending_review" and i.kind == "recommendation")
    review_service.decide(
        record.case.case_id,
        DecisionCreate(item_id=pending.item_id, expected_version=1, decision="approve"),
        AGENT,
    )
    body = ResolutionCreate(
        outcome="resolved", resolution_action="propose_transfer", resolution="Moved 6 units"
    )
    case_service.record_resolution(record.case.case_id, body, WORKFLOW)

    page = event_outbox.feed(None)
    types = [e.type for e in page.items]
    assert types[0] == EventType.CASE_TRIAGED
    assert EventType.ITEM_APPROVED in types
    assert types[-2:] == [EventType.CASE_RESOLVED, EventType.CASE_STATUS_CHANGED]
    assert [int(e.sequence) for e in page.items] == sorted(int(e.sequence) for e in page.items)
    first = page.items[0]
    assert first.specversion == "1.0" and first.source == "urn:exception-triage:test"
    assert first.subject == record.case.case_id and first.data["label"] == "inventory_shortage"
    assert page.items[-1].data == {"case_id": record.case.case_id, "from": "pending_review", "to": "resolved"}
    assert len({e.id for e in page.items}) == len(page.items)


def test_a_replayed_create_writes_no_second_event(
    case_service: CaseService, event_outbox: EventOutbox
) -> None:
    event = make_event("evt-once")
    case_service.create(make_record(event))
    case_service.create(make_record(event))  # the same event again: the first case, no new rows
    assert [e.type for e in event_outbox.feed(None).items] == [EventType.CASE_TRIAGED]


def test_an_event_about_no_case_has_no_subject_and_reads_back(
    sessions: sessionmaker[Session], event_outbox: EventOutbox
) -> None:
    with sessions.begin() as session:
        event_outbox.append(session, [EventCreate(EventType.POLICY_CHANGED, None, {"version": "v2"})])
    (item,) = event_outbox.feed(None).items
    assert item.type == EventType.POLICY_CHANGED and item.subject is None and item.data == {"version": "v2"}


def test_the_feed_pages_by_cursor_and_filters_by_type(
    case_service: CaseService, event_outbox: EventOutbox
) -> None:
    for _ in range(5):
        case_service.create(make_record())
    first = event_outbox.feed(None, limit=2)
    second = event_outbox.feed(first.next_cursor, limit=2)
    rest = event_outbox.feed(second.next_cursor, limit=10)
    assert [len(p.items) for p in (first, second, rest)] == [2, 2, 1]
    seen = [e.id for p in (first, second, rest) for e in p.items]
    assert len(set(seen)) == 5
    empty = event_outbox.feed(rest.next_cursor)
    assert empty.items == [] and empty.next_cursor == rest.next_cursor
    assert event_outbox.feed(None, types=[EventType.CASE_RESOLVED]).items == []
    with pytest.raises(InvalidInput):
        event_outbox.feed("not-a-cursor")


def test_webhook_deliveries_are_signed_and_verify_with_the_package(
    case_service: CaseService, webhooks: WebhookService, worker: DeliveryWorker, receiver: Receiver
) -> None:
    created = webhooks.create(WebhookCreate(url=receiver.url, types=[EventType.CASE_TRIAGED]), ADMIN)
    record = make_record()
    case_service.create(record)

    assert worker.deliver_due() == 1
    events = verified(receiver, created.secret)
    assert events[0]["type"] == "case.triaged" and events[0]["subject"] == record.case.case_id
    headers, _ = receiver.requests[0]
    assert headers["webhook-id"] == events[0]["id"]
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 32).verify(receiver.requests[0][1], headers)
    assert worker.deliver_due() == 0  # delivered once


def test_failures_retry_with_backoff_then_dead_letter_and_redeliver(
    case_service: CaseService, webhooks: WebhookService, worker: DeliveryWorker, receiver: Receiver
) -> None:
    created = webhooks.create(WebhookCreate(url=receiver.url), ADMIN)
    receiver.statuses = [500, 503, 500]
    case_service.create(make_record())

    for attempt in range(3):
        worker.deliver_due()
        # Past any backoff: each round's clock is hours past the previous round's (a fixed offset would leave
        # the next round within the backoff it set when the database is fast).
        worker.clock = lambda hours=2 * (attempt + 1): utc_now() + timedelta(hours=hours)
    dead = webhooks.deliveries(DeliveryStatus.DEAD, created.webhook_id, 10)
    assert len(dead) == 1 and dead[0].attempts == 3 and dead[0].last_status == 500
    assert len(receiver.requests) == 3

    worker.clock = utc_now
    webhooks.redeliver(dead[0].delivery_id, ADMIN)
    assert worker.deliver_due() == 1
    assert webhooks.deliveries(DeliveryStatus.DELIVERED, created.webhook_id, 10)[0].attempts == 1
    headers, body = receiver.requests[-1]
    assert len(receiver.requests) == 4
    assert Webhook(created.secret).verify(body, headers)["type"] == "case.triaged"


def test_a_rotated_secret_signs_with_both_during_the_grace_period(
    case_service: CaseService, webhooks: WebhookService, worker: DeliveryWorker, receiver: Receiver
) -> None:
    old = webhooks.create(WebhookCreate(url=receiver.url), ADMIN)
    new = webhooks.rotate_secret(old.webhook_id, 3600, ADMIN)
    case_service.create(make_record())
    worker.deliver_due()
    assert verified(receiver, old.secret) and verified(receiver, new.secret)

    expired = webhooks.rotate_secret(old.webhook_id, 0, ADMIN)
    case_service.create(make_record())
    receiver.requests.clear()
    worker.deliver_due()
    assert verified(receiver, expired.secret)
    with pytest.raises(WebhookVerificationError):
        verified(receiver, new.secret)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x",
        "http://localhost/x",
        "http://169.254.169.254/latest",
        "http://10.1.2.3/",
    ],
)
def test_private_targets_are_refused_without_the_allow_list(
    sessions: sessionmaker[Session], audit_service: AuditService, url: str
) -> None:
    strict = WebhookService(sessions, audit_service, DeliveryPolicy(source="urn:test"))
    with pytest.raises(InvalidInput, match="not a public address"):
        strict.create(WebhookCreate.model_validate({"url": url}), ADMIN)
    with pytest.raises(ValidationError):
        WebhookCreate.model_validate({"url": "ftp://example.com/"})


def test_concurrent_workers_never_send_one_delivery_twice(
    case_service: CaseService,
    webhooks: WebhookService,
    sessions: sessionmaker[Session],
    receiver: Receiver,
    policy: DeliveryPolicy,
) -> None:
    created = webhooks.create(WebhookCreate(url=receiver.url), ADMIN)
    for _ in range(30):
        case_service.create(make_record())
    workers = [DeliveryWorker(sessions, policy) for _ in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        delivered = sum(pool.map(lambda w: sum(w.deliver_due() for _ in range(3)), workers))
    ids = [json.loads(body)["id"] for _, body in receiver.requests]
    assert delivered == 30 and len(ids) == 30 and len(set(ids)) == 30
    assert len(verified(receiver, created.secret)) == 30


def test_the_webhooks_cli_manages_subscriptions_and_dead_letters(
    triage_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from triage.cli import main
    from triage.config import get_settings

    monkeypatch.setenv("TRIAGE_WEBHOOK_ALLOWED_NETWORKS", '["127.0.0.0/8"]')
    get_settings.cache_clear()
    assert main(["webhooks", "create", "--url", "http://127.0.0.1:9/hook", "--type", "case.resolved"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["secret"].startswith("whsec_") and created["types"] == ["case.resolved"]
    assert main(["webhooks", "rotate-secret", created["webhook_id"], "--grace-s", "60"]) == 0
    assert json.loads(capsys.readouterr().out)["secret"] != created["secret"]
    assert main(["webhooks", "list"]) == 0
    assert [w["webhook_id"] for w in json.loads(capsys.readouterr().out)] == [created["webhook_id"]]
    assert main(["webhooks", "dead-letters"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["webhooks", "redeliver", "12345"]) == 2
    assert "no delivery" in capsys.readouterr().err
    monkeypatch.delenv("TRIAGE_WEBHOOK_ALLOWED_NETWORKS")
    get_settings.cache_clear()
    assert main(["webhooks", "create", "--url", "http://127.0.0.1:9/hook"]) == 2
    assert "not a public address" in capsys.readouterr().err
