"""Cases, items and their audit trail are stored together, idempotently, on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import WORKFLOW, make_event, make_record
from triage.core.errors import Conflict, NotFound, UpstreamUnavailable
from triage.core.vocabulary import CaseStatus
from triage.db.migrate import is_up_to_date, upgrade_database
from triage.db.tables import AuditLogRow, CaseRow, ItemRow
from triage.domain.audit.schemas import AuditFilters
from triage.domain.audit.services import AuditService
from triage.domain.cases.repositories import CaseFilters
from triage.domain.cases.schemas import ResolutionCreate
from triage.domain.cases.services import CaseService

CREATION_ACTIONS = [
    "case.received",
    "case.classified",
    "case.retrieved",
    "case.drafted",
    "case.gated",
    "item.queued_for_review",
    "item.auto_approved",
    "item.queued_for_review",
]


def count(sessions: sessionmaker[Session], model: type[object]) -> int:
    with sessions() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def test_migrations_are_idempotent(migrated_url: str) -> None:
    upgrade_database(migrated_url)
    assert is_up_to_date(migrated_url)


def test_create_stores_case_items_and_the_whole_audit_story(
    case_service: CaseService, audit_service: AuditService, sessions: sessionmaker[Session]
) -> None:
    record = make_record()

    case, created = case_service.create(record)

    assert created
    assert case == record.case
    assert case_service.get(case.case_id) == record.case
    assert count(sessions, ItemRow) == 3
    page = audit_service.query(AuditFilters(case_id=case.case_id))
    assert [r.action for r in page.items] == CREATION_ACTIONS
    classified = page.items[1]
    assert (classified.input_hash, classified.model_version) == (record.input_hash, "model-abc")
    assert (classified.confidence, classified.threshold) == (0.91, 0.8)
    assert page.items[2].neighbour_ids == ["H-1"]
    assert page.items[3].prompt_version == "prompts-xyz"
    assert page.items[4].policy_version == "policy-123"
    assert {r.actor_subject for r in page.items} == {WORKFLOW.subject}
    assert audit_service.verify().ok


def test_replay_with_the_same_body_returns_the_first_case_and_writes_nothing(
    case_service: CaseService, sessions: sessionmaker[Session]
) -> None:
    event = make_event("evt-replay")
    first, _ = case_service.create(make_record(event))
    audit_rows = count(sessions, AuditLogRow)

    replay = case_service.find_replay("evt-replay", make_record(event).body_hash)
    again, created = case_service.create(make_record(event))

    assert replay == first
    assert (again, created) == (first, False)
    assert count(sessions, CaseRow) == 1
    assert count(sessions, AuditLogRow) == audit_rows
    assert case_service.find_replay("evt-unknown", "x") is None


def test_same_event_id_with_another_body_is_a_conflict(case_service: CaseService) -> None:
    case_service.create(make_record(make_event("evt-conflict")))
    other = make_record(make_event("evt-conflict", description="A different description"))

    with pytest.raises(Conflict):
        case_service.find_replay("evt-conflict", other.body_hash)
    with pytest.raises(Conflict):
        case_service.create(other)


def test_fifty_concurrent_identical_creates_make_one_case(
    case_service: CaseService, sessions: sessionmaker[Session]
) -> None:
    event = make_event("evt-concurrent")
    records = [make_record(event) for _ in range(50)]  # each request gets its own case id, as in the flow

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(case_service.create, records))

    assert sum(created for _, created in results) == 1
    assert len({case.case_id for case, _ in results}) == 1
    assert count(sessions, CaseRow) == 1
    assert count(sessions, AuditLogRow) == len(CREATION_ACTIONS)


def test_get_unknown_case_is_not_found(case_service: CaseService) -> None:
    with pytest.raises(NotFound):
        case_service.get("case-missing")


def test_list_filters_and_pages_newest_first(case_service: CaseService) -> None:
    start = datetime(2026, 5, 1, tzinfo=UTC)
    for i in range(5):
        event = make_event(order={"customer_id": "CUST-A" if i % 2 == 0 else "CUST-B"})
        case_service.create(make_record(event, created_at=start + timedelta(minutes=i), case_id=f"case-{i}"))

    first, cursor = case_service.list(limit=2)
    second, cursor2 = case_service.list(limit=2, cursor=cursor)
    third, cursor3 = case_service.list(limit=2, cursor=cursor2)
    only_a, _ = case_service.list(CaseFilters(customer_id="CUST-A"))

    assert [c.case_id for c in first + second + third] == ["case-4", "case-3", "case-2", "case-1", "case-0"]
    assert cursor3 is None
    assert [c.case_id for c in only_a] == ["case-4", "case-2", "case-0"]
    assert case_service.list(CaseFilters(label="credit_hold"))[0] == []
    assert len(case_service.list(CaseFilters(team="fulfillment", status=CaseStatus.PENDING_REVIEW))[0]) == 5


def test_resolution_is_recorded_once_and_audited(
    case_service: CaseService, audit_service: AuditService
) -> None:
    case, _ = case_service.create(make_record())
    body = ResolutionCreate(outcome="resolved", resolution_action="transfer", resolution="Moved 6 units")
    resolved, created = case_service.record_resolution(case.case_id, body, WORKFLOW)
    again, created_again = case_service.record_resolution(case.case_id, body, WORKFLOW)

    assert (created, created_again) == (True, False)
    assert resolved.status == again.status == "resolved"
    assert case_service.get_event(case.case_id).event_id == case.event_id
    with pytest.raises(Conflict):
        case_service.record_resolution(
            case.case_id, body.model_copy(update={"outcome": "escalated"}), WORKFLOW
        )
    with pytest.raises(NotFound):
        case_service.record_resolution("case-missing", body, WORKFLOW)
    resolved_records = audit_service.query(AuditFilters(case_id=case.case_id, action="case.resolved")).items
    assert len(resolved_records) == 1
    assert (
        resolved_records[0].after is not None and resolved_records[0].after["resolution_action"] == "transfer"
    )


def _refuse_audit_inserts(engine: Engine) -> None:
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(
                text(
                    "CREATE TRIGGER refuse_insert BEFORE INSERT ON audit_log "
                    "FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change()"
                )
            )
        else:
            connection.execute(
                text(
                    "CREATE TRIGGER refuse_insert BEFORE INSERT ON audit_log "
                    "BEGIN SELECT RAISE(ABORT, 'no'); END"
                )
            )


def test_when_the_audit_write_fails_the_action_fails_and_nothing_is_stored(
    case_service: CaseService, db_engine: Engine, sessions: sessionmaker[Session]
) -> None:
    _refuse_audit_inserts(db_engine)

    with pytest.raises(UpstreamUnavailable):
        case_service.create(make_record())

    assert count(sessions, CaseRow) == 0
    assert count(sessions, ItemRow) == 0


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET reason = 'x'", "DELETE FROM audit_log"])
def test_the_database_refuses_to_change_audit_records(
    case_service: CaseService, db_engine: Engine, statement: str
) -> None:
    case_service.create(make_record())

    with pytest.raises(DBAPIError), db_engine.begin() as connection:
        connection.execute(text(statement))
