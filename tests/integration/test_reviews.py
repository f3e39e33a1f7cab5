"""Review workflow: the queue, decisions under the policy, optimistic concurrency, four-eyes, escalation."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import make_event, make_item, make_record
from triage.core.actors import Actor, Role
from triage.core.errors import Conflict, InvalidInput, NotFound, PolicyViolation
from triage.core.vocabulary import ItemKind
from triage.db.tables import DecisionRow
from triage.domain.audit.schemas import AuditFilters
from triage.domain.audit.services import AuditService
from triage.domain.cases.records import TriageRecord
from triage.domain.cases.services import CaseService
from triage.domain.events.services import EventOutbox
from triage.domain.reviews.queue import ClaimState, QueueFilters, ReviewQueue
from triage.domain.reviews.schemas import DecisionCreate
from triage.domain.reviews.services import ReviewService
from triage.engines.drafting import Drafter
from triage.engines.policy import PolicyStore

ROOT = Path(__file__).resolve().parents[2]
AGENT = Actor(subject="alice", role=Role.AGENT, teams=("fulfillment",))
AGENT_2 = Actor(subject="bob", role=Role.AGENT, teams=("fulfillment",))
OTHER_TEAM = Actor(subject="olga", role=Role.AGENT, teams=("finance",))
SUPERVISOR = Actor(subject="sam", role=Role.SUPERVISOR, teams=("fulfillment",))
WORKFLOW_ACTOR = Actor(subject="erp", role=Role.WORKFLOW)


@pytest.fixture
def review_service(
    sessions: sessionmaker[Session], audit_service: AuditService, event_outbox: EventOutbox, drafter: Drafter
) -> ReviewService:
    policies = PolicyStore(
        ROOT / "guardrails" / "policy.yaml", taxonomy_file=ROOT / "guardrails" / "taxonomy.yaml"
    )
    return ReviewService(sessions, audit_service, policies, event_outbox, drafter)


def stored(case_service: CaseService, record: TriageRecord) -> TriageRecord:
    case_service.create(record)
    return record


def item_id(record: TriageRecord, key: str) -> str:
    return next(item.item_id for item in record.items if item.key == key)


@pytest.fixture
def review_queue(
    sessions: sessionmaker[Session], audit_service: AuditService, event_outbox: EventOutbox
) -> ReviewQueue:
    return ReviewQueue(sessions, audit_service, event_outbox, claim_ttl_s=600)


REC = "recommendation:check_alternate_warehouse"
UPDATE = "draft:customer_update"


def test_queue_shows_what_the_actor_may_decide_most_urgent_first(
    case_service: CaseService, review_queue: ReviewQueue
) -> None:
    now = datetime.now(UTC)
    later = stored(case_service, make_record(review_due_at=now + timedelta(hours=3)))
    sooner = stored(case_service, make_record(review_due_at=now + timedelta(hours=1)))

    queue = review_queue.queue(AGENT)

    assert [i.case_id for i in queue.items] == [sooner.case.case_id] * 2 + [later.case.case_id] * 2
    assert {i.key for i in queue.items} == {REC, UPDATE}
    assert len(review_queue.queue(SUPERVISOR).items) == 4
    assert review_queue.queue(OTHER_TEAM).items == []
    assert review_queue.queue(WORKFLOW_ACTOR).items == []
    page = review_queue.queue(AGENT, limit=3)
    assert len(page.items) == 3 and page.next_cursor is not None
    assert len(review_queue.queue(AGENT, limit=3, cursor=page.next_cursor).items) == 1


def test_approve_then_a_stale_or_repeated_decision_is_a_refused_conflict(
    case_service: CaseService, review_service: ReviewService, audit_service: AuditService
) -> None:
    record = stored(case_service, make_record())
    case_id, target = record.case.case_id, item_id(record, REC)

    decided = review_service.decide(
        case_id, DecisionCreate(item_id=target, expected_version=1, decision="approve"), AGENT
    )
    with pytest.raises(Conflict):
        review_service.decide(
            case_id,
            DecisionCreate(item_id=target, expected_version=1, decision="reject", reason="no"),
            AGENT_2,
        )

    assert (decided.status, decided.version) == ("approved", 2)
    case = case_service.get(case_id)
    assert case.recommendations[0].status == "approved"
    story = audit_service.query(AuditFilters(case_id=case_id)).items
    approved = next(r for r in story if r.action == "item.approved")
    assert approved.actor_subject == "alice"
    assert approved.policy_version == review_service.policies.current.version_hash
    assert (approved.model_version, approved.prompt_version) == ("model-abc", "prompts-xyz")
    refused = next(r for r in story if r.action == "item.decision_refused")
    assert (refused.actor_subject, refused.outcome) == ("bob", "Conflict")
    assert audit_service.verify().ok


def test_two_concurrent_decisions_on_one_item_one_wins(
    case_service: CaseService, review_service: ReviewService
) -> None:
    record = stored(case_service, make_record())
    body = DecisionCreate(item_id=item_id(record, REC), expected_version=1, decision="approve")
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def decide(actor: Actor) -> None:
        barrier.wait()
        try:
            review_service.decide(record.case.case_id, body, actor)
            outcomes.append("won")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=decide, args=(a,)) for a in (AGENT, AGENT_2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["conflict", "won"]


def test_reject_and_label_override_need_a_reason(
    case_service: CaseService, review_service: ReviewService, sessions: sessionmaker[Session]
) -> None:
    record = stored(case_service, make_record())
    case_id, target = record.case.case_id, item_id(record, REC)

    with pytest.raises(InvalidInput):
        review_service.decide(
            case_id, DecisionCreate(item_id=target, expected_version=1, decision="reject"), AGENT
        )
    with pytest.raises(InvalidInput):
        review_service.decide(
            case_id,
            DecisionCreate(item_id=target, expected_version=1, decision="approve", label="carrier_failure"),
            AGENT,
        )
    decided = review_service.decide(
        case_id,
        DecisionCreate(
            item_id=target,
            expected_version=1,
            decision="reject",
            label="carrier_failure",
            reason="the carrier lost the pallet",
        ),
        AGENT,
    )

    assert (decided.status, decided.label_override) == ("rejected", "carrier_failure")
    with sessions() as session:
        row = session.execute(select(DecisionRow)).scalar_one()
    assert (row.decision, row.label_override, row.reason) == (
        "reject",
        "carrier_failure",
        "the carrier lost the pallet",
    )


def test_edit_and_approve_keeps_the_original_and_the_edited_text(
    case_service: CaseService, review_service: ReviewService, audit_service: AuditService
) -> None:
    record = stored(case_service, make_record())
    case_id, target = record.case.case_id, item_id(record, UPDATE)
    original = next(i.text for i in record.items if i.key == UPDATE)

    decided = review_service.decide(
        case_id,
        DecisionCreate(
            item_id=target, expected_version=1, decision="edit_and_approve", edited_text="Ships Friday."
        ),
        AGENT,
    )

    assert decided.status == "edited"
    case = case_service.get(case_id)
    assert case.drafts is not None
    assert (case.drafts.customer_update.text, case.drafts.customer_update.status) == (
        "Ships Friday.",
        "edited",
    )
    [audited] = audit_service.query(AuditFilters(case_id=case_id, action="item.edited_and_approved")).items
    assert audited.before is not None and audited.after is not None
    assert (audited.before["text"], audited.after["text"]) == (original, "Ships Friday.")


def test_four_eyes_the_editor_cannot_approve_their_own_edit(
    case_service: CaseService, review_service: ReviewService, audit_service: AuditService
) -> None:
    record = stored(case_service, make_record(item_overrides={"customer_update": {"four_eyes": True}}))
    case_id, target = record.case.case_id, item_id(record, UPDATE)

    edited = review_service.decide(
        case_id,
        DecisionCreate(
            item_id=target, expected_version=1, decision="edit_and_approve", edited_text="Friday."
        ),
        AGENT,
    )
    with pytest.raises(PolicyViolation):
        review_service.decide(
            case_id, DecisionCreate(item_id=target, expected_version=2, decision="approve"), AGENT
        )
    approved = review_service.decide(
        case_id, DecisionCreate(item_id=target, expected_version=2, decision="approve"), AGENT_2
    )

    assert (edited.status, edited.awaiting_second_approval) == ("pending_review", True)
    assert (approved.status, approved.version) == ("edited", 3)
    actions = [r.action for r in audit_service.query(AuditFilters(case_id=case_id)).items]
    assert actions[-3:] == ["item.edited", "item.decision_refused", "item.approved"]


def test_role_team_and_monetary_limit_come_from_the_policy(
    case_service: CaseService, review_service: ReviewService
) -> None:
    event = make_event(order={"order_value": "60000.00"})
    items = [make_item("case-credit", "recommendation:request_credit_release", requires_team="finance")]
    record = stored(
        case_service,
        make_record(event, label="credit_hold", team="finance", case_id="case-credit", items=items),
    )
    case_id = record.case.case_id
    target = record.items[0].item_id
    finance_agent = Actor(subject="fay", role=Role.AGENT, teams=("finance",))
    fulfillment_supervisor = Actor(subject="sue", role=Role.SUPERVISOR, teams=("fulfillment",))
    finance_supervisor = Actor(subject="fred", role=Role.SUPERVISOR, teams=("finance",))
    body = DecisionCreate(item_id=target, expected_version=1, decision="approve")

    for actor in (finance_agent, fulfillment_supervisor):
        with pytest.raises(PolicyViolation):
            review_service.decide(case_id, body, actor)
    assert review_service.decide(case_id, body, finance_supervisor).status == "approved"


def test_overdue_items_escalate_once_with_two_concurrent_escalators(
    case_service: CaseService,
    review_service: ReviewService,
    review_queue: ReviewQueue,
    audit_service: AuditService,
) -> None:
    now = datetime.now(UTC)
    overdue = stored(case_service, make_record(review_due_at=now - timedelta(minutes=5)))
    stored(case_service, make_record(review_due_at=now + timedelta(hours=1)))
    counts: list[int] = []
    barrier = threading.Barrier(2)

    def escalate() -> None:
        barrier.wait()
        counts.append(review_service.escalate_overdue(now))

    threads = [threading.Thread(target=escalate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(counts) == [0, 2]
    assert review_service.escalate_overdue(now + timedelta(minutes=1)) == 0
    escalated = audit_service.query(AuditFilters(action="item.escalated")).items
    assert {r.case_id for r in escalated} == {overdue.case.case_id}
    assert {r.details["escalated_to"] for r in escalated if r.details} == {"supervisor"}
    queue = review_queue.queue(SUPERVISOR)
    assert [i.overdue for i in queue.items] == [True, True, False, False]
    assert queue.items[0].escalated_to == "supervisor"


def test_a_claimed_item_is_offered_to_nobody_else_and_only_its_holder_decides_it(
    case_service: CaseService, review_service: ReviewService, review_queue: ReviewQueue
) -> None:
    record = stored(case_service, make_record())
    target = item_id(record, REC)

    claimed = review_queue.claim(target, AGENT)
    assert claimed.claimed_by == "alice" and claimed.claimed_until is not None
    assert target not in {i.item_id for i in review_queue.queue(AGENT_2).items}
    assert target in {i.item_id for i in review_queue.queue(AGENT).items}
    mine = review_queue.queue(AGENT, filters=QueueFilters(status=ClaimState.MINE))
    assert [i.item_id for i in mine.items] == [target]
    with pytest.raises(Conflict, match="claimed by alice"):
        review_queue.claim(target, AGENT_2)
    with pytest.raises(Conflict, match="claimed by alice"):
        review_service.decide(
            record.case.case_id,
            DecisionCreate(item_id=target, expected_version=1, decision="approve"),
            AGENT_2,
        )

    review_queue.release(target, AGENT)
    assert target in {i.item_id for i in review_queue.queue(AGENT_2).items}
    review_queue.assign(target, "bob", SUPERVISOR)
    decided = review_service.decide(
        record.case.case_id, DecisionCreate(item_id=target, expected_version=1, decision="approve"), AGENT_2
    )
    assert decided.status == "approved"


def test_claims_expire(case_service: CaseService, review_queue: ReviewQueue) -> None:
    record = stored(case_service, make_record())
    target = item_id(record, REC)
    review_queue.claim(target, AGENT)
    review_queue.clock = lambda: datetime.now(UTC) + timedelta(minutes=11)
    assert target in {i.item_id for i in review_queue.queue(AGENT_2).items}
    assert review_queue.claim(target, AGENT_2).claimed_by == "bob"


def test_queue_filters_counts_and_unknown_values(
    case_service: CaseService, review_queue: ReviewQueue
) -> None:
    now = datetime.now(UTC)
    stored(case_service, make_record(review_due_at=now - timedelta(minutes=5)))
    stored(case_service, make_record(review_due_at=now + timedelta(hours=1)))
    everything = review_queue.queue(SUPERVISOR)
    assert (everything.counts.total, everything.counts.overdue) == (4, 2)
    overdue = review_queue.queue(SUPERVISOR, filters=QueueFilters(overdue=True))
    assert overdue.counts.total == 2 and all(i.overdue for i in overdue.items)
    drafts = review_queue.queue(SUPERVISOR, filters=QueueFilters(kind=ItemKind.DRAFT))
    assert {i.kind for i in drafts.items} == {"draft"}
    assert review_queue.queue(SUPERVISOR, filters=QueueFilters(site="NOWHERE")).items == []
    strict = ReviewQueue(
        review_queue.sessions,
        review_queue.audit,
        review_queue.events,
        known_labels=frozenset({"inventory_shortage"}),
        known_teams=frozenset({"fulfillment"}),
    )
    with pytest.raises(InvalidInput):
        strict.queue(SUPERVISOR, filters=QueueFilters(category="nonsense"))
    with pytest.raises(InvalidInput):
        strict.queue(SUPERVISOR, filters=QueueFilters(team="nobody"))


def test_a_human_edit_gets_the_fact_check_and_findings_need_an_acknowledgement(
    case_service: CaseService, review_service: ReviewService, sessions: sessionmaker[Session]
) -> None:
    record = stored(case_service, make_record())
    case_id, target = record.case.case_id, item_id(record, UPDATE)
    invented = "Your order will arrive July 30 and we refunded $500 to your card."

    checked = review_service.check_edit(case_id, target, invented, AGENT)
    assert {f.check for f in checked} and any("500" in f.span or "July" in f.span for f in checked)
    assert (
        review_service.check_edit(case_id, target, "We are checking another warehouse for you.", AGENT) == []
    )
    edit = DecisionCreate(
        item_id=target, expected_version=1, decision="edit_and_approve", edited_text=invented
    )
    with pytest.raises(InvalidInput, match="fact-check finding"):
        review_service.decide(case_id, edit, AGENT)

    acknowledged = edit.model_copy(update={"acknowledge_findings": True})
    decided = review_service.decide(case_id, acknowledged, AGENT)
    assert decided.status == "edited"
    with sessions() as session:
        row = session.execute(select(DecisionRow).where(DecisionRow.item_id == target)).scalar_one()
    assert row.acknowledged_findings and len(row.acknowledged_findings) == len(checked)


def test_approve_all_decides_what_the_caller_may_and_leaves_the_rest(
    case_service: CaseService, review_service: ReviewService, review_queue: ReviewQueue
) -> None:
    record = stored(
        case_service, make_record(item_overrides={"customer_update": {"requires_role": "supervisor"}})
    )
    case_id = record.case.case_id
    decided = review_service.approve_all(case_id, AGENT)
    assert [d.item_id for d in decided] == [item_id(record, REC)]
    left = review_queue.queue(SUPERVISOR).items
    assert [i.item_id for i in left] == [item_id(record, UPDATE)]
    assert review_service.approve_all(case_id, SUPERVISOR)[0].case_status == "reviewed"


def test_the_event_with_the_customer_message_is_visible_to_the_case_team_only(
    case_service: CaseService,
) -> None:
    record = stored(case_service, make_record(make_event(customer_message="Where is my order? <b>now</b>")))
    assert (
        case_service.get_event(record.case.case_id, AGENT).customer_message == "Where is my order? <b>now</b>"
    )
    with pytest.raises(NotFound):
        case_service.get_event(record.case.case_id, OTHER_TEAM)
