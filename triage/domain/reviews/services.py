"""``ReviewService``: the review queue, decisions on items, and escalation of items past their SLA.

A decision is checked against the policy in force at decision time (role, team, monetary limit, four-eyes),
applied with a conditional UPDATE on the version the reviewer saw, and audited in the same transaction.
A refused decision changes nothing but is still audited, in a transaction of its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from triage.core.actors import Actor
from triage.core.clock import Clock, utc_now
from triage.core.errors import Conflict, InvalidInput, NotFound, PolicyViolation, TriageError
from triage.core.vocabulary import CaseStatus, Decision, ItemKind, ItemStatus
from triage.db.engine import read_snapshot, unit_of_work
from triage.db.tables import CaseRow, DecisionRow, ItemRow
from triage.domain.audit.schemas import AuditEntryCreate
from triage.domain.audit.services import AuditService
from triage.domain.auth.policy import may_see_team
from triage.domain.cases.schemas import FindingRead
from triage.domain.cases.services import status_changed
from triage.domain.events.schemas import EventCreate, EventType
from triage.domain.events.services import EventOutbox
from triage.domain.reviews.edits import edit_findings
from triage.domain.reviews.queue import held_by_other
from triage.domain.reviews.schemas import DecisionCreate, DecisionRead
from triage.domain.reviews.visibility import decidable_by
from triage.engines.drafting import Drafter
from triage.engines.drafting.models import DraftKind
from triage.engines.policy import Policy, approval_requirement, draft_approval_requirement, may_approve

log = logging.getLogger(__name__)

PENDING = ItemStatus.PENDING_REVIEW
DECISION_ACTIONS = {
    Decision.APPROVE: "item.approved",
    Decision.REJECT: "item.rejected",
    Decision.EDIT_AND_APPROVE: "item.edited",
}


class PolicySource(Protocol):
    @property
    def current(self) -> Policy: ...


@dataclass(frozen=True)
class Requirement:
    role: str
    team: str | None
    four_eyes: bool


@dataclass(frozen=True)
class Decided:
    """One checked decision, before and after it is written (what the audit record and the answer show)."""

    case: CaseRow
    item: ItemRow
    body: DecisionCreate
    actor: Actor
    policy_version: str
    requirement: Requirement
    label_override: str | None
    awaiting_second: bool
    before: dict[str, Any]
    at: datetime
    findings: list[dict[str, Any]] | None = None
    """Fact-check findings of an edit, acknowledged by the approver (None when nothing was edited)."""


class ReviewService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        audit: AuditService,
        policies: PolicySource,
        events: EventOutbox,
        drafter: Drafter,
        *,
        clock: Clock = utc_now,
    ) -> None:
        """``drafter``: its fact-check is applied to human edits, as to the drafts it writes."""
        self.sessions = sessions
        self.audit = audit
        self.policies = policies
        self.events = events
        self.drafter = drafter
        self.clock = clock

    def decide(self, case_id: str, body: DecisionCreate, actor: Actor) -> DecisionRead:
        """Approve, reject or edit-and-approve one item. ``Conflict`` when the item was decided or changed
        since ``expected_version``; ``PolicyViolation`` when ``actor`` may not decide it; both audited."""
        with read_snapshot(self.sessions) as session:
            if session.get(CaseRow, case_id) is None:
                raise NotFound(f"no case {case_id!r}")
        try:
            with unit_of_work(self.sessions) as session:
                return self._decide(session, case_id, body, actor)
        except TriageError as exc:
            if exc.status_code == 503:
                raise
            self._audit_refusal(case_id, body, actor, exc)
            raise

    def _decide(self, session: Session, case_id: str, body: DecisionCreate, actor: Actor) -> DecisionRead:
        case, item = self._locked(session, case_id, body, actor)
        holder = held_by_other(item, actor, self.clock())
        if holder is not None:
            raise Conflict(f"item {item.item_id!r} is claimed by {holder}; ask them or a supervisor")
        decided = self._checked(case, item, body, actor)
        self._apply(session, decided)
        status_before = case.status
        self._update_case_status(session, case, decided.at)
        self.audit.append(session, [_decision_entry(decided)])
        events = [_decision_event(decided)]
        if case.status != status_before:
            events.append(status_changed(case.case_id, status_before, case.status))
        self.events.append(session, events)
        return _decision_read(decided)

    @staticmethod
    def _locked(
        session: Session, case_id: str, body: DecisionCreate, actor: Actor
    ) -> tuple[CaseRow, ItemRow]:
        """The case and the item, locked, if ``actor`` may see them and the item still waits for this decision."""
        case = session.execute(
            select(CaseRow).where(CaseRow.case_id == case_id).with_for_update()
        ).scalar_one_or_none()
        if case is None or not may_see_team(actor, case.team):
            raise NotFound(f"no case {case_id!r}")
        if case.resolution_outcome is not None:
            raise Conflict(f"case {case_id!r} is resolved ({case.resolution_outcome}); its items are closed")
        item = session.execute(
            select(ItemRow).where(ItemRow.item_id == body.item_id).with_for_update()
        ).scalar_one_or_none()
        if item is None or item.case_id != case_id:
            raise NotFound(f"case {case_id!r} has no item {body.item_id!r}")
        if item.status != PENDING:
            raise Conflict(f"item {item.item_id!r} was already decided ({item.status})")
        if item.version != body.expected_version:
            raise Conflict(
                f"item {item.item_id!r} changed: version {item.version}, not {body.expected_version}"
            )
        return case, item

    def _checked(self, case: CaseRow, item: ItemRow, body: DecisionCreate, actor: Actor) -> Decided:
        """The decision, once the body makes sense for the item and ``actor`` may take it under the policy."""
        label_override = body.label if body.label is not None and body.label != case.label else None
        if (body.decision == Decision.REJECT or label_override) and not body.reason:
            raise InvalidInput("a reason is required to reject an item or to override the label")
        if body.decision == Decision.EDIT_AND_APPROVE and item.kind != ItemKind.DRAFT:
            raise InvalidInput("only drafts can be edited; approve or reject a recommendation")
        policy = self.policies.current
        requirement = self._requirement(policy, case, item)
        self._authorize(actor, item, requirement)
        if body.decision == Decision.APPROVE and requirement.four_eyes and item.edited_by == actor.subject:
            raise PolicyViolation("four-eyes: the approver must be someone other than the editor")
        findings = self._edit_findings(case, item, body)
        return Decided(
            findings=findings,
            case=case,
            item=item,
            body=body,
            actor=actor,
            policy_version=policy.version_hash,
            requirement=requirement,
            label_override=label_override,
            awaiting_second=body.decision == Decision.EDIT_AND_APPROVE and requirement.four_eyes,
            before={"status": item.status, "text": _current_text(item), "version": item.version},
            at=self.clock(),
        )

    def _edit_findings(
        self, case: CaseRow, item: ItemRow, body: DecisionCreate
    ) -> list[dict[str, Any]] | None:
        """The findings of an edit; ``InvalidInput`` listing them unless the reviewer acknowledged them."""
        if body.decision != Decision.EDIT_AND_APPROVE or body.edited_text is None:
            return None
        kind = draft_kind(item)
        findings = [f.model_dump() for f in edit_findings(self.drafter, case, kind, body.edited_text)]
        if findings and not body.acknowledge_findings:
            raise InvalidInput(
                f"the edited text has {len(findings)} fact-check finding(s); fix them, or approve with "
                "acknowledge_findings: true (recorded)",
                extra={"findings": findings},
            )
        return findings

    def check_edit(self, case_id: str, item_id: str, text: str, actor: Actor) -> list[FindingRead]:
        """The fact-check findings ``text`` would have as the new text of draft ``item_id`` (a live re-check)."""
        with read_snapshot(self.sessions) as session:
            case = session.get(CaseRow, case_id)
            item = session.get(ItemRow, item_id)
            if case is None or not may_see_team(actor, case.team):
                raise NotFound(f"no case {case_id!r}")
            if item is None or item.case_id != case_id or item.kind != ItemKind.DRAFT:
                raise NotFound(f"case {case_id!r} has no draft {item_id!r}")
            return edit_findings(self.drafter, case, draft_kind(item), text)

    def approve_all(self, case_id: str, actor: Actor) -> list[DecisionRead]:
        """Approve every pending item of the case that ``actor`` may decide now (not held by someone else);
        items they may not decide are left for whoever may."""
        with read_snapshot(self.sessions) as session:
            case = session.get(CaseRow, case_id)
            if case is None or not may_see_team(actor, case.team):
                raise NotFound(f"no case {case_id!r}")
            pending = session.execute(
                decidable_by(
                    select(ItemRow, CaseRow).join(CaseRow, CaseRow.case_id == ItemRow.case_id), actor
                ).where(ItemRow.case_id == case_id, ItemRow.status == PENDING)
            ).all()
            targets = [(item.item_id, item.version) for item, _ in pending]
        decided = []
        for target, version in targets:
            body = DecisionCreate(item_id=target, expected_version=version, decision=Decision.APPROVE)
            try:
                decided.append(self.decide(case_id, body, actor))
            except (PolicyViolation, Conflict):
                continue  # four-eyes, a limit or a claim: that item stays for someone else (refusal audited)
        return decided

    @staticmethod
    def _apply(session: Session, decided: Decided) -> None:
        """Write the decision with a conditional UPDATE on the version the reviewer saw, and its record."""
        item, body, actor, now = decided.item, decided.body, decided.actor, decided.at
        values: dict[str, Any] = {"version": ItemRow.version + 1}
        if body.decision == Decision.REJECT:
            values |= {"status": ItemStatus.REJECTED.value, "decided_by": actor.subject, "decided_at": now}
        elif body.decision == Decision.APPROVE:
            status = ItemStatus.EDITED if item.edited_text is not None else ItemStatus.APPROVED
            values |= {"status": status.value, "decided_by": actor.subject, "decided_at": now}
        else:
            values |= {
                "edited_text": body.edited_text,
                "edited_by": actor.subject,
                "findings": decided.findings,
            }
            if not decided.awaiting_second:
                values |= {"status": ItemStatus.EDITED.value, "decided_by": actor.subject, "decided_at": now}
        result = session.execute(
            update(ItemRow)
            .where(
                ItemRow.item_id == item.item_id,
                ItemRow.version == body.expected_version,
                ItemRow.status == PENDING,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict(f"item {item.item_id!r} was decided concurrently")
        session.refresh(item)
        session.add(
            DecisionRow(
                item_id=item.item_id,
                case_id=item.case_id,
                actor_subject=actor.subject,
                actor_role=actor.role_name,
                decision=body.decision,
                reason=body.reason,
                label_override=decided.label_override,
                before_text=decided.before["text"],
                after_text=_current_text(item),
                created_at=now,
                acknowledged_findings=decided.findings or None,
            )
        )

    @staticmethod
    def _requirement(policy: Policy, case: CaseRow, item: ItemRow) -> Requirement:
        """Who must approve, under the policy in force now (limits depend on the order value)."""
        if item.kind == ItemKind.DRAFT:
            role, four_eyes = draft_approval_requirement(policy, case.label, item.key.removeprefix("draft:"))
            return Requirement(role=role, team=item.requires_team, four_eyes=four_eyes or item.four_eyes)
        currency = (case.event.get("order") or {}).get("currency")
        role, team = approval_requirement(
            policy, case.label, item.action or item.key, Decimal(case.order_value), currency
        )
        return Requirement(role=role, team=team, four_eyes=item.four_eyes)

    @staticmethod
    def _authorize(actor: Actor, item: ItemRow, requirement: Requirement) -> None:
        role, teams = actor.role_name, actor.teams
        allowed = may_approve(role, teams, requirement.role, requirement.team) or (
            item.escalated_to is not None and may_approve(role, teams, item.escalated_to, requirement.team)
        )
        if not allowed:
            team = f" of team {requirement.team}" if requirement.team else ""
            raise PolicyViolation(
                f"item {item.item_id!r} needs approval by {requirement.role}{team}; {actor.subject} is {role}"
            )

    @staticmethod
    def _update_case_status(session: Session, case: CaseRow, now: datetime) -> None:
        session.flush()
        pending = session.execute(
            select(func.count()).where(ItemRow.case_id == case.case_id, ItemRow.status == PENDING)
        ).scalar_one()
        if pending == 0 and case.resolution_outcome is None:
            case.status = CaseStatus.REVIEWED
        case.version += 1
        case.updated_at = now

    def _audit_refusal(self, case_id: str, body: DecisionCreate, actor: Actor, exc: TriageError) -> None:
        try:
            self.audit.append_now(
                [
                    AuditEntryCreate(
                        action="item.decision_refused",
                        actor=actor,
                        case_id=case_id,
                        item_id=body.item_id,
                        outcome=type(exc).__name__,
                        reason=exc.detail,
                        details={
                            "decision": body.decision,
                            "expected_version": body.expected_version,
                            "label": body.label,
                            "status_code": exc.status_code,
                        },
                    )
                ]
            )
        except TriageError as audit_error:
            log.error("could not audit a refused decision on %s/%s: %s", case_id, body.item_id, audit_error)

    def escalate_overdue(self, now: datetime | None = None) -> int:
        """Escalate pending items past their SLA to their case's escalation role, once each, even with
        several workers racing: only the UPDATE that flips ``escalated_at`` from NULL wins a row."""
        now = now or self.clock()
        escalation_role = (
            select(CaseRow.escalation_role).where(CaseRow.case_id == ItemRow.case_id).scalar_subquery()
        )
        with unit_of_work(self.sessions) as session:
            won = session.execute(
                update(ItemRow)
                .where(
                    and_(
                        ItemRow.status == PENDING,
                        ItemRow.escalated_at.is_(None),
                        ItemRow.review_due_at.is_not(None),
                        ItemRow.review_due_at < now,
                        ~select(CaseRow.case_id)
                        .where(CaseRow.case_id == ItemRow.case_id, CaseRow.resolution_outcome.is_not(None))
                        .exists(),
                    )
                )
                .values(escalated_at=now, escalated_to=escalation_role)
                .returning(ItemRow.item_id, ItemRow.case_id, ItemRow.escalated_to, ItemRow.review_due_at)
                .execution_options(synchronize_session=False)
            ).all()
            if not won:
                return 0
            case_ids = sorted({row.case_id for row in won})
            session.execute(
                update(CaseRow)
                .where(CaseRow.case_id.in_(case_ids), CaseRow.escalated_at.is_(None))
                .values(escalated_at=now)
                .execution_options(synchronize_session=False)
            )
            session.execute(
                update(CaseRow)
                .where(CaseRow.case_id.in_(case_ids))
                .values(updated_at=now, version=CaseRow.version + 1)
                .execution_options(synchronize_session=False)
            )
            orders = dict(
                session.execute(
                    select(CaseRow.case_id, CaseRow.order_id).where(CaseRow.case_id.in_(case_ids))
                ).all()
            )
            ordered = sorted(won, key=lambda r: (r.case_id, r.item_id))
            self.audit.append(session, [_escalation_entry(row, orders.get(row.case_id)) for row in ordered])
            self.events.append(session, [_escalation_event(row) for row in ordered])
            return len(won)


def _decision_entry(decided: Decided) -> AuditEntryCreate:
    case, item, body, requirement = decided.case, decided.item, decided.body, decided.requirement
    action = DECISION_ACTIONS[body.decision]
    if body.decision == Decision.EDIT_AND_APPROVE and not decided.awaiting_second:
        action = "item.edited_and_approved"
    versions = case.response.get("versions") or {}
    return AuditEntryCreate(
        action=action,
        actor=decided.actor,
        case_id=case.case_id,
        item_id=item.item_id,
        order_id=case.order_id,
        outcome="awaiting_second_approval" if decided.awaiting_second else item.status,
        reason=body.reason,
        before=decided.before,
        after={"status": item.status, "text": _current_text(item), "version": item.version},
        model_version=versions.get("model"),
        prompt_version=versions.get("prompts"),
        policy_version=decided.policy_version,
        confidence=case.confidence,
        details={
            "decision": body.decision,
            "label": case.label,
            "label_override": decided.label_override,
            "required_role": requirement.role,
            "required_team": requirement.team,
            "four_eyes": requirement.four_eyes,
            "edited_by": item.edited_by,
            "order_value": case.order_value,
            "acknowledged_findings": decided.findings or None,
        },
    )


def _escalation_entry(row: Any, order_id: str | None) -> AuditEntryCreate:
    return AuditEntryCreate(
        action="item.escalated",
        actor=Actor.system(),
        case_id=row.case_id,
        item_id=row.item_id,
        order_id=order_id,
        outcome="escalated",
        reason="review SLA passed",
        details={
            "escalated_to": row.escalated_to,
            "review_due_at": row.review_due_at.isoformat() if row.review_due_at else None,
        },
    )


def _escalation_event(row: Any) -> EventCreate:
    data = {
        "case_id": row.case_id,
        "item_id": row.item_id,
        "escalated_to": row.escalated_to,
        "review_due_at": row.review_due_at,
    }
    return EventCreate(EventType.REVIEW_ESCALATED, row.case_id, data)


DECISION_EVENTS = {
    Decision.APPROVE: EventType.ITEM_APPROVED,
    Decision.REJECT: EventType.ITEM_REJECTED,
    Decision.EDIT_AND_APPROVE: EventType.ITEM_EDITED,
}


def _decision_event(decided: Decided) -> EventCreate:
    item, body = decided.item, decided.body
    return EventCreate(
        DECISION_EVENTS[body.decision],
        decided.case.case_id,
        {
            "case_id": decided.case.case_id,
            "item_id": item.item_id,
            "kind": item.kind,
            "key": item.key,
            "action": item.action,
            "decision": body.decision,
            "status": item.status,
            "awaiting_second_approval": decided.awaiting_second,
            "decided_by": decided.actor.subject,
            "reason": body.reason,
            "label_override": decided.label_override,
            "text": _current_text(item) if item.kind == ItemKind.DRAFT else None,
        },
    )


def _decision_read(decided: Decided) -> DecisionRead:
    item = decided.item
    return DecisionRead(
        case_id=decided.case.case_id,
        item_id=item.item_id,
        decision=decided.body.decision,
        status=item.status,
        version=item.version,
        awaiting_second_approval=decided.awaiting_second,
        reason=decided.body.reason,
        label_override=decided.label_override,
        decided_by=decided.actor.subject,
        decided_at=decided.at,
        case_status=decided.case.status,
    )


def draft_kind(item: ItemRow) -> DraftKind:
    return "summary" if item.key == "draft:summary" else "customer_update"


def _current_text(item: ItemRow) -> str | None:
    return item.edited_text if item.edited_text is not None else item.original_text
