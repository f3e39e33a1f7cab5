"""The review and audit controllers over HTTP: a minimal app with the real services and a fixed caller."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.di import Provide
from litestar.testing import TestClient
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import make_record
from triage.core.actors import Actor, Role
from triage.domain.audit.controllers import AuditController
from triage.domain.audit.export_verify import trusted_keys_from_text, verify_export_text
from triage.domain.audit.services import AuditService
from triage.domain.cases.services import CaseService
from triage.domain.dependencies import provide_caller
from triage.domain.events.services import EventOutbox
from triage.domain.reviews.controllers import ReviewController
from triage.domain.reviews.queue import ReviewQueue
from triage.domain.reviews.services import ReviewService
from triage.engines.drafting import Drafter
from triage.engines.policy import PolicyStore

ROOT = Path(__file__).resolve().parents[2]
CALLER: dict[str, Actor] = {}


def as_caller(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope["user"] = CALLER["actor"]
        await app(scope, receive, send)

    return middleware


@pytest.fixture
def client(
    sessions: sessionmaker[Session], audit_service: AuditService, event_outbox: EventOutbox, drafter: Drafter
) -> Iterator[TestClient[Litestar]]:
    policies = PolicyStore(
        ROOT / "guardrails" / "policy.yaml", taxonomy_file=ROOT / "guardrails" / "taxonomy.yaml"
    )
    reviews = ReviewService(sessions, audit_service, policies, event_outbox, drafter)
    queue = ReviewQueue(sessions, audit_service, event_outbox)
    app = Litestar(
        route_handlers=[ReviewController, AuditController],
        dependencies={
            "caller": Provide(provide_caller, sync_to_thread=False),
            "review_service": Provide(lambda: reviews, sync_to_thread=False),
            "review_queue": Provide(lambda: queue, sync_to_thread=False),
            "audit_service": Provide(lambda: audit_service, sync_to_thread=False),
        },
        middleware=[as_caller],
    )
    with TestClient(app) as test_client:
        yield test_client


def call_as(actor: Actor) -> None:
    CALLER["actor"] = actor


def test_a_triage_and_an_approval_tell_the_whole_story(
    client: TestClient[Litestar], case_service: CaseService, audit_service: AuditService
) -> None:
    record = make_record()
    case_service.create(record)
    case_id = record.case.case_id
    call_as(Actor(subject="alice", role=Role.AGENT, teams=("fulfillment",)))

    queue = client.get("/v1/reviews").json()["items"]
    target = next(i for i in queue if i["kind"] == "recommendation")
    decided = client.post(
        f"/v1/cases/{case_id}/decisions",
        json={"item_id": target["item_id"], "expected_version": target["version"], "decision": "approve"},
    )
    stale = client.post(
        f"/v1/cases/{case_id}/decisions",
        json={"item_id": target["item_id"], "expected_version": 1, "decision": "approve", "extra": 1},
    )
    call_as(Actor(subject="carla", role=Role.COMPLIANCE))
    story = client.get("/v1/audit", params={"case_id": case_id}).json()
    verify = client.get("/v1/audit/verify").json()
    export = client.get("/v1/audit/export", params={"format": "jsonl"})
    csv_export = client.get("/v1/audit/export", params={"format": "csv"})

    assert decided.status_code == 201, decided.text
    assert decided.json()["status"] == "approved"
    assert stale.status_code == 400  # unknown field refused before the service sees it
    actions = [r["action"] for r in story["items"]]
    assert actions[:5] == ["case.received", "case.classified", "case.retrieved", "case.drafted", "case.gated"]
    assert actions[-1] == "item.approved"
    approved = story["items"][-1]
    assert approved["actor_subject"] == "alice" and approved["policy_version"]
    classified = story["items"][1]
    assert classified["model_version"] == "model-abc" and classified["threshold"] == 0.8
    assert verify["ok"] is True
    assert export.headers["content-type"].startswith("application/x-ndjson")
    assert csv_export.headers["content-type"].startswith("text/csv")
    keys = trusted_keys_from_text(client.get("/v1/audit/public-key").text)
    assert verify_export_text(export.text, keys).ok
    assert verify_export_text(csv_export.text, keys).ok
    assert csv_export.text.splitlines()[0].startswith("kind,seq,at,actor_subject")
    assert len(csv_export.text.splitlines()) == len(export.text.splitlines()) + 1


def test_the_export_of_one_case_holds_that_case_only_and_verifies_alone(
    client: TestClient[Litestar], case_service: CaseService
) -> None:
    first, second = make_record(), make_record()
    case_service.create(first)
    case_service.create(second)
    call_as(Actor(subject="carla", role=Role.COMPLIANCE))

    published = client.get("/v1/audit/public-key")
    story = client.get("/v1/audit", params={"case_id": second.case.case_id}).json()["items"]
    export = client.get("/v1/audit/export", params={"case_id": second.case.case_id})
    csv_export = client.get("/v1/audit/export", params={"case_id": second.case.case_id, "format": "csv"})

    assert published.status_code == 200 and published.json()["current_key_id"]
    header, *lines = export.text.splitlines()
    records = [json.loads(line) for line in lines]
    assert {r["case_id"] for r in records} == {second.case.case_id}
    assert [r["seq"] for r in records] == [r["seq"] for r in story]
    assert json.loads(header)["selection"]["filter"] == {"case_id": second.case.case_id}
    keys = trusted_keys_from_text(published.text)
    result = verify_export_text(export.text, keys)
    assert (result.ok, result.checked, result.complete) == (True, len(story), False)
    assert verify_export_text(csv_export.text, keys).ok


def test_the_export_documents_both_media_types(client: TestClient[Litestar]) -> None:
    call_as(Actor(subject="carla", role=Role.COMPLIANCE))

    paths = client.get("/schema/openapi.json").json()["paths"]

    content = paths["/v1/audit/export"]["get"]["responses"]["200"]["content"]
    assert set(content) == {"application/x-ndjson", "text/csv"}
    assert "/v1/audit/public-key" in paths


def test_audit_query_pages_by_sequence(client: TestClient[Litestar], case_service: CaseService) -> None:
    case_service.create(make_record())
    call_as(Actor(subject="carla", role=Role.COMPLIANCE))

    first = client.get("/v1/audit", params={"limit": 3}).json()
    second = client.get("/v1/audit", params={"limit": 3, "cursor": first["next_cursor"]}).json()
    bad = client.get("/v1/audit/export", params={"format": "xml"})

    seqs: list[Any] = [r["seq"] for r in first["items"] + second["items"]]
    assert seqs == [1, 2, 3, 4, 5, 6]
    assert bad.status_code == 400
    assert json.loads(client.get("/v1/audit", params={"action": "nothing.here"}).text)["items"] == []
