"""``CaseService``: stores what the triage flow produced, with its audit trail, and reads it back.

Every write happens in one transaction together with its audit records; if the audit write fails the whole
change is rolled back and the caller gets ``UpstreamUnavailable`` (503).
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from triage.core.actors import Actor
from triage.core.clock import Clock, utc_now
from triage.core.errors import Conflict, InvalidInput, NotFound
from triage.core.events import ExceptionEvent
from triage.core.paging import clamp_limit
from triage.core.vocabulary import CaseStatus, ItemStatus
from triage.db.engine import read_snapshot, unit_of_work
from triage.db.tables import CaseRow, DecisionRow, ItemRow
from triage.domain.audit.schemas import AuditEntryCreate
from triage.domain.audit.services import AuditService
from triage.domain.auth.policy import may_see_team
from triage.domain.cases.audit_trail import creation_entries
from triage.domain.cases.records import ItemRecord, TriageRecord
from triage.domain.cases.relabel import Relabelled
from triage.domain.cases.repositories import CaseFilters, CaseRepository, next_page_cursor
from triage.domain.cases.schemas import ResolutionCreate, TriageCase
from triage.domain.events.schemas import EventCreate, EventType
from triage.domain.events.services import EventOutbox
from triage.engines.policy.taxonomy import Taxonomy


def case_read(case: CaseRow, items: Sequence[ItemRow], decisions: Sequence[DecisionRow] = ()) -> TriageCase:
    """The stored response with the case's current state laid over it: status, item statuses and edited
    texts, version, decisions and resolution."""
    data: dict[str, Any] = dict(case.response)
    data["status"] = case.status
    data["version"] = case.version
    data["updated_at"] = case.updated_at
    data["decisions"] = [_decision_read(d) for d in decisions]
    data["resolution"] = _resolution_read(case)
    by_id = {item.item_id: item for item in items}
    by_key = {item.key: item for item in items}
    for recommendation in data.get("recommendations") or []:
        item = by_id.get(recommendation.get("id")) or by_key.get(
            f"recommendation:{recommendation.get('action')}"
        )
        if item is not None:
            recommendation["status"] = item.status
    for name, draft in (data.get("drafts") or {}).items():
        item = by_id.get(draft.get("item_id")) or by_key.get(f"draft:{name}")
        if item is not None:
            draft["status"] = item.status
            if item.edited_text is not None:
                # An edit replaces the text and its fact-check findings (approved edits and ones awaiting
                # a second approver alike).
                draft["findings"] = list(item.findings)
            if item.status == ItemStatus.EDITED and item.edited_text is not None:
                draft["text"] = item.edited_text
    return TriageCase.model_validate(data)


class CaseService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        audit: AuditService,
        events: EventOutbox,
        *,
        taxonomy: Taxonomy | None = None,
        clock: Clock = utc_now,
    ) -> None:
        """``taxonomy``: when given, list filters naming an unknown label or team are refused."""
        self.sessions = sessions
        self.audit = audit
        self.events = events
        self.taxonomy = taxonomy
        self.clock = clock
        self.repository = CaseRepository()

    def find_replay(self, event_id: str, body_hash: str) -> TriageCase | None:
        """The stored response for ``event_id`` if the body is the same; ``Conflict`` if it differs."""
        with read_snapshot(self.sessions) as session:
            case = self.repository.by_event_id(session, event_id)
            if case is None:
                return None
            self._same_body(case, body_hash)
            return self._read(session, case)

    @staticmethod
    def _same_body(case: CaseRow, body_hash: str) -> None:
        if case.body_hash != body_hash:
            raise Conflict(
                f"event_id {case.event_id!r} was already triaged with a different body",
                extra={"case_id": case.case_id},
            )

    def create(self, record: TriageRecord) -> tuple[TriageCase, bool]:
        """Store the case, its items and its audit trail in one transaction: ``(case, created)``.

        A concurrent or repeated create of the same ``event_id`` returns the first case with ``created``
        false and writes nothing; the same ``event_id`` with another body is a ``Conflict``.
        """
        # Everything that does not need the database is built first: the transaction holds the audit head's
        # lock (and on SQLite the write lock) only for the writes themselves.
        case, items = self._rows(record)
        entries = creation_entries(record)
        events = [triaged_event(record)]
        try:
            with unit_of_work(self.sessions) as session:
                self.repository.add(session, case, items)
                self.audit.append(session, entries)
                self.events.append(session, events)
        except IntegrityError as exc:
            replay = self.find_replay(record.event.event_id, record.body_hash)
            if replay is None:
                raise Conflict("the case could not be stored: an identifier is already taken") from exc
            return replay, False
        return case_read(case, items), True

    def get(self, case_id: str, actor: Actor | None = None) -> TriageCase:
        """One case; ``NotFound`` when it does not exist or ``actor`` may not see its team."""
        with read_snapshot(self.sessions) as session:
            case = self._visible(self.repository.get(session, case_id), case_id, actor)
            return self._read(session, case)

    def _read(self, session: Session, case: CaseRow) -> TriageCase:
        case_id = case.case_id
        items = self.repository.items(session, [case_id])[case_id]
        return case_read(case, items, self.repository.decisions(session, [case_id])[case_id])

    @staticmethod
    def _visible(case: CaseRow | None, case_id: str, actor: Actor | None) -> CaseRow:
        """The case row, unless it is missing or outside ``actor``'s teams (both are the same 404, so an
        outsider cannot tell which case ids exist)."""
        if case is None or (actor is not None and not may_see_team(actor, case.team)):
            raise NotFound(f"no case {case_id!r}")
        return case

    def get_event(self, case_id: str, actor: Actor | None = None) -> ExceptionEvent:
        """The event a case was triaged from, as it was received (the customer's message included)."""
        with read_snapshot(self.sessions) as session:
            case = self._visible(self.repository.get(session, case_id), case_id, actor)
            return ExceptionEvent.model_validate(case.event)

    def list(
        self, filters: CaseFilters | None = None, *, cursor: str | None = None, limit: int = 50
    ) -> tuple[list[TriageCase], str | None]:
        """Cases newest first, filtered; the second value is the cursor of the next page (or None).
        ``InvalidInput`` for a label or team the taxonomy does not know, or a naive ``updated_since``."""
        filters = filters or CaseFilters()
        self._check(filters)
        limit = clamp_limit(limit)
        with read_snapshot(self.sessions) as session:
            rows = self.repository.page(session, filters, cursor=cursor, limit=limit + 1)
            page = rows[:limit]
            items = self.repository.items(session, [row.case_id for row in page])
            decisions = self.repository.decisions(session, [row.case_id for row in page])
            cases = [case_read(row, items[row.case_id], decisions[row.case_id]) for row in page]
            return cases, next_page_cursor(rows, limit)

    def _check(self, filters: CaseFilters) -> None:
        if filters.updated_since is not None and filters.updated_since.tzinfo is None:
            raise InvalidInput("updated_since must carry a timezone offset, e.g. 2026-05-01T08:00:00Z")
        if self.taxonomy is None:
            return
        if filters.label is not None and filters.label not in self.taxonomy.labels:
            raise InvalidInput(f"label {filters.label!r} is not one of {', '.join(self.taxonomy.labels)}")
        teams = self.taxonomy.teams
        if filters.team is not None and filters.team not in teams:
            raise InvalidInput(f"team {filters.team!r} is not one of {', '.join(sorted(teams))}")

    def record_resolution(
        self, case_id: str, body: ResolutionCreate, actor: Actor
    ) -> tuple[TriageCase, bool]:
        """Record the final outcome once: ``(case, created)``; the identical body again is not an error, a
        different one is a ``Conflict``; a case outside ``actor``'s teams is ``NotFound``."""
        with unit_of_work(self.sessions) as session:
            case = self._visible(self.repository.get(session, case_id, for_update=True), case_id, actor)
            created = case.resolution_outcome is None
            if created:
                self._resolve(session, case, body, actor)
            elif _stored_resolution(case) != body:
                raise Conflict(f"case {case_id!r} already has a different resolution")
            return self._read(session, case), created

    def apply_relabel(self, case_id: str, relabelled: Relabelled, actor: Actor) -> TriageCase:
        """Store a re-label in one transaction: open items superseded, the new ones added, the case moved to
        the new team and category, audited and announced. ``Conflict`` when the case changed meanwhile."""
        with unit_of_work(self.sessions) as session:
            case = self._visible(self.repository.get(session, case_id, for_update=True), case_id, actor)
            if case.version != relabelled.expected_version:
                raise Conflict(
                    f"case {case_id!r} changed: version {case.version}, not {relabelled.expected_version}"
                )
            if case.resolution_outcome is not None:
                raise Conflict(f"case {case_id!r} is resolved; it cannot be re-labelled")
            before = {"label": case.label, "team": case.team, "status": case.status}
            items = self.repository.items(session, [case_id])[case_id]
            for item in items:
                if item.status == ItemStatus.PENDING_REVIEW:
                    item.status, item.version = ItemStatus.SUPERSEDED, item.version + 1
            self._relabel_row(case, relabelled)
            new_items = [
                item_row(item, case_id, len(items) + position, case.review_due_at)
                for position, item in enumerate(relabelled.items)
            ]
            session.add_all(new_items)
            session.flush()
            self.audit.append(session, [self._relabel_entry(case, relabelled, actor, before)])
            data = {
                "case_id": case_id,
                "from_label": before["label"],
                "label": case.label,
                "team": case.team,
                "by": actor.subject,
                "reason": relabelled.reason,
            }
            events = [EventCreate(EventType.CASE_RELABELLED, case_id, data)]
            if case.status != before["status"]:
                events.append(status_changed(case_id, before["status"], case.status))
            self.events.append(session, events)
            return self._read(session, case)

    def _relabel_row(self, case: CaseRow, relabelled: Relabelled) -> None:
        now = self.clock()
        response = relabelled.case
        case.label = response.classification.label
        case.confidence = response.classification.confidence
        case.severity = response.severity.value
        case.owner_team = relabelled.team
        case.team = response.owner_team
        case.status = response.status.value
        case.response = response.model_dump(mode="json")
        case.review_due_at = response.review_due_at
        case.escalation_role = relabelled.escalation_role
        case.escalated_at = None
        case.version += 1
        case.updated_at = now

    @staticmethod
    def _relabel_entry(
        case: CaseRow, relabelled: Relabelled, actor: Actor, before: dict[str, str]
    ) -> AuditEntryCreate:
        versions = relabelled.case.versions
        return AuditEntryCreate(
            action="case.relabelled",
            actor=actor,
            case_id=case.case_id,
            order_id=case.order_id,
            outcome=case.label,
            reason=relabelled.reason,
            before=before,
            after={"label": case.label, "team": case.team, "status": case.status},
            model_version=versions.model,
            prompt_version=versions.prompts,
            policy_version=versions.policy,
            details={
                "items": [{"item_id": i.item_id, "key": i.key, "status": i.status} for i in relabelled.items],
                "gate": relabelled.case.gate.decision,
            },
        )

    def _resolve(self, session: Session, case: CaseRow, body: ResolutionCreate, actor: Actor) -> None:
        before = {"status": case.status}
        now = self.clock()
        case.resolution_outcome = body.outcome
        case.resolution_action = body.resolution_action
        case.resolution_text = body.resolution
        case.hours_to_resolve = body.hours_to_resolve
        case.resolved_at = now
        case.resolved_by = actor.subject
        case.status = CaseStatus.RESOLVED
        case.version += 1
        case.updated_at = now
        session.flush()
        resolved = EventCreate(
            EventType.CASE_RESOLVED,
            case.case_id,
            {"case_id": case.case_id, "resolved_by": actor.subject, **body.model_dump(mode="json")},
        )
        self.events.append(session, [resolved, status_changed(case.case_id, before["status"], case.status)])
        versions = case.response.get("versions") or {}
        self.audit.append(
            session,
            [
                AuditEntryCreate(
                    action="case.resolved",
                    actor=actor,
                    case_id=case.case_id,
                    order_id=case.order_id,
                    outcome=body.outcome,
                    reason=body.resolution,
                    before=before,
                    after={"status": case.status, **body.model_dump(mode="json")},
                    model_version=versions.get("model"),
                    prompt_version=versions.get("prompts"),
                    policy_version=versions.get("policy"),
                )
            ],
        )

    def _rows(self, record: TriageRecord) -> tuple[CaseRow, builtins.list[ItemRow]]:
        triage = record.case
        order = record.event.order
        case = CaseRow(
            case_id=triage.case_id,
            event_id=record.event.event_id,
            body_hash=record.body_hash,
            event=record.event.model_dump(mode="json"),
            response=triage.model_dump(mode="json"),
            label=triage.classification.label,
            confidence=triage.classification.confidence,
            severity=triage.severity.value,
            owner_team=triage.owner_team,
            team=record.team,
            customer_id=order.customer_id,
            order_id=order.order_id,
            site=order.site,
            customer_tier=order.customer_tier.value,
            order_value=str(record.order_value),
            status=triage.status,
            created_at=triage.created_at,
            updated_at=triage.created_at,
            review_due_at=record.review_due_at,
            escalation_role=record.escalation_role,
            version=1,
        )
        items = [
            item_row(item, triage.case_id, position, record.review_due_at)
            for position, item in enumerate(record.items)
        ]
        return case, items


def _stored_resolution(case: CaseRow) -> ResolutionCreate:
    return ResolutionCreate.model_validate(
        {
            "outcome": case.resolution_outcome,
            "resolution_action": case.resolution_action,
            "resolution": case.resolution_text,
            "hours_to_resolve": case.hours_to_resolve,
        }
    )


def status_changed(case_id: str, before: str, after: str) -> EventCreate:
    return EventCreate(
        EventType.CASE_STATUS_CHANGED, case_id, {"case_id": case_id, "from": before, "to": after}
    )


def triaged_event(record: TriageRecord) -> EventCreate:
    case = record.case
    return EventCreate(
        EventType.CASE_TRIAGED,
        case.case_id,
        {
            "case_id": case.case_id,
            "event_id": case.event_id,
            "order_id": record.event.order.order_id,
            "customer_id": record.event.order.customer_id,
            "status": case.status,
            "label": case.classification.label,
            "confidence": case.classification.confidence,
            "abstained": case.classification.abstained,
            "severity": case.severity,
            "owner_team": case.owner_team,
            "gate_decision": case.gate.decision,
            "review_due_at": case.review_due_at,
            "degraded": case.degraded,
            "versions": case.versions.model_dump(mode="json"),
        },
    )


def _decision_read(row: DecisionRow) -> dict[str, Any]:
    return {
        "item_id": row.item_id,
        "decision": row.decision,
        "decided_by": row.actor_subject,
        "role": row.actor_role,
        "reason": row.reason,
        "label_override": row.label_override,
        "text": row.after_text,
        "at": row.created_at,
    }


def _resolution_read(case: CaseRow) -> dict[str, Any] | None:
    if case.resolution_outcome is None:
        return None
    return {
        "outcome": case.resolution_outcome,
        "resolution_action": case.resolution_action,
        "resolution": case.resolution_text,
        "hours_to_resolve": case.hours_to_resolve,
        "resolved_by": case.resolved_by,
        "resolved_at": case.resolved_at,
    }


def item_row(item: ItemRecord, case_id: str, position: int, review_due_at: datetime | None) -> ItemRow:
    """The stored row of a gated item (pending items carry the case's review deadline)."""
    return ItemRow(
        item_id=item.item_id,
        case_id=case_id,
        position=position,
        kind=item.kind,
        key=item.key,
        action=item.action,
        original_text=item.text,
        generator=item.generator,
        risk=item.risk,
        status=item.status,
        requires_role=item.requires_role,
        requires_team=item.requires_team,
        four_eyes=item.four_eyes,
        findings=list(item.findings),
        reasons=list(item.reasons),
        review_due_at=review_due_at if item.status == ItemStatus.PENDING_REVIEW else None,
        version=1,
    )
