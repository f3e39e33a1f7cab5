"""``ReviewQueue``: the items waiting for a human, most urgent first, filtered and counted; and claims.

Urgency: the review SLA's due time first, then the case's severity, then the customer's tier. A claim gives one
reviewer an item until ``claimed_until``: other reviewers do not see it in their queue and cannot decide it
until the claim is released or expires; a supervisor may assign an item to a reviewer. Claims are audited and
each is an event (``review.claimed``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.orm import Session, sessionmaker

from triage.core.actors import Actor, Role
from triage.core.clock import Clock, utc_now
from triage.core.errors import Conflict, InvalidInput, NotFound, PolicyViolation
from triage.core.paging import clamp_limit, decode_cursor, encode_cursor
from triage.core.vocabulary import ItemKind, ItemStatus, Severity
from triage.db.engine import read_snapshot, unit_of_work
from triage.db.tables import CaseRow, ItemRow
from triage.domain.audit.schemas import AuditEntryCreate
from triage.domain.audit.services import AuditService
from triage.domain.events.schemas import EventCreate, EventType
from triage.domain.events.services import EventOutbox
from triage.domain.reviews.schemas import QueueCounts, ReviewItemRead, ReviewQueueRead
from triage.domain.reviews.visibility import decidable_by, item_read

PENDING = ItemStatus.PENDING_REVIEW
SEVERITY_RANK = {Severity.CRITICAL: 0, Severity.HIGH: 1, Severity.MEDIUM: 2, Severity.LOW: 3}
TIER_RANK = {"strategic": 0, "key": 1, "standard": 2, "basic": 3}


class ClaimState(StrEnum):
    """Which items of the queue to show, by claim."""

    AVAILABLE = "available"
    """Unclaimed, claimed by me, or with an expired claim (the default view)."""
    MINE = "mine"
    CLAIMED_BY_OTHERS = "claimed_by_others"
    ANY = "any"


@dataclass(frozen=True)
class QueueFilters:
    team: str | None = None
    kind: ItemKind | None = None
    category: str | None = None
    site: str | None = None
    status: ClaimState = ClaimState.AVAILABLE
    overdue: bool | None = None


class ReviewQueue:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        audit: AuditService,
        events: EventOutbox,
        *,
        claim_ttl_s: float = 900.0,
        known_labels: frozenset[str] | None = None,
        known_teams: frozenset[str] | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.sessions = sessions
        self.audit = audit
        self.events = events
        self.claim_ttl = timedelta(seconds=claim_ttl_s)
        self.known_labels = known_labels
        self.known_teams = known_teams
        self.clock = clock

    def queue(
        self, actor: Actor, limit: int = 50, cursor: str | None = None, filters: QueueFilters | None = None
    ) -> ReviewQueueRead:
        """Pending items ``actor`` may decide (admin: all, read-only), most urgent first, with counts."""
        filters = filters or QueueFilters()
        self._check(filters)
        limit = clamp_limit(limit)
        offset = decode_cursor(cursor, int)[0] if cursor else 0
        now = self.clock()
        base = self._filtered(decidable_by(_pending_join(), actor), filters, actor, now)
        ordered = base.order_by(*_urgency()).offset(offset).limit(limit + 1)
        with read_snapshot(self.sessions) as session:
            rows = session.execute(ordered).all()
            counts = self._counts(session, base, now)
            items = [item_read(item, case_row, now) for item, case_row in rows[:limit]]
        next_cursor = encode_cursor(offset + limit) if len(rows) > limit else None
        return ReviewQueueRead(items=items, next_cursor=next_cursor, counts=counts)

    def claim(self, item_id: str, actor: Actor) -> ReviewItemRead:
        """Take an item for ``actor`` until the claim expires; ``Conflict`` when someone else holds it."""
        return self._set_claim(item_id, actor, actor.subject, "review.claimed")

    def release(self, item_id: str, actor: Actor) -> ReviewItemRead:
        """Give an item back (only its holder or a supervisor)."""
        return self._set_claim(item_id, actor, None, "review.released")

    def assign(self, item_id: str, to: str, actor: Actor) -> ReviewItemRead:
        """A supervisor gives an item to a reviewer (their claim, with the usual expiry)."""
        if actor.role is not Role.SUPERVISOR:
            raise PolicyViolation("only a supervisor assigns review items")
        return self._set_claim(item_id, actor, to, "review.assigned")

    def _set_claim(self, item_id: str, actor: Actor, holder: str | None, action: str) -> ReviewItemRead:
        now = self.clock()
        with unit_of_work(self.sessions) as session:
            statement = decidable_by(_pending_join(), actor).where(ItemRow.item_id == item_id)
            row = session.execute(statement.with_for_update(of=ItemRow)).first()
            if row is None:
                raise NotFound(f"no review item {item_id!r} waiting for you")
            item, case_row = row
            held = item.claimed_by is not None and item.claimed_until is not None and item.claimed_until > now
            if held and item.claimed_by != actor.subject and actor.role is not Role.SUPERVISOR:
                raise Conflict(f"item {item_id!r} is claimed by {item.claimed_by} until {item.claimed_until}")
            before: dict[str, object] = {"claimed_by": item.claimed_by if held else None}
            item.claimed_by = holder
            item.claimed_until = now + self.claim_ttl if holder else None
            self._record(session, actor, action, item, case_row, before)
            return item_read(item, case_row, now)

    def _record(
        self,
        session: Session,
        actor: Actor,
        action: str,
        item: ItemRow,
        case_row: CaseRow,
        before: dict[str, object],
    ) -> None:
        after = {"claimed_by": item.claimed_by, "claimed_until": item.claimed_until}
        entry = AuditEntryCreate(
            action=action,
            actor=actor,
            case_id=case_row.case_id,
            item_id=item.item_id,
            order_id=case_row.order_id,
            outcome=item.claimed_by or "released",
            before=dict(before),
            after={k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in after.items()},
        )
        self.audit.append(session, [entry])
        data = {"case_id": case_row.case_id, "item_id": item.item_id, "action": action, **entry.after}  # type: ignore[dict-item]
        self.events.append(session, [EventCreate(EventType.REVIEW_CLAIMED, case_row.case_id, data)])

    def _check(self, filters: QueueFilters) -> None:
        if (
            self.known_labels is not None
            and filters.category is not None
            and filters.category not in self.known_labels
        ):
            raise InvalidInput(
                f"category {filters.category!r} is not one of {', '.join(sorted(self.known_labels))}"
            )
        if self.known_teams is not None and filters.team is not None and filters.team not in self.known_teams:
            raise InvalidInput(f"team {filters.team!r} is not one of {', '.join(sorted(self.known_teams))}")

    @staticmethod
    def _filtered(
        statement: Select[ItemRow, CaseRow], filters: QueueFilters, actor: Actor, now: datetime
    ) -> Select[ItemRow, CaseRow]:
        conditions = [
            column == value
            for column, value in (
                (CaseRow.team, filters.team),
                (ItemRow.kind, filters.kind),
                (CaseRow.label, filters.category),
                (CaseRow.site, filters.site),
            )
            if value is not None
        ]
        if filters.overdue is not None:
            late = and_(ItemRow.review_due_at.is_not(None), ItemRow.review_due_at < now)
            conditions.append(late if filters.overdue else ~late)
        held = and_(ItemRow.claimed_by.is_not(None), ItemRow.claimed_until > now)
        by_me = and_(held, ItemRow.claimed_by == actor.subject)
        by_others = and_(held, ItemRow.claimed_by != actor.subject)
        claim_condition = {
            ClaimState.AVAILABLE: ~by_others,
            ClaimState.MINE: by_me,
            ClaimState.CLAIMED_BY_OTHERS: by_others,
            ClaimState.ANY: None,
        }[filters.status]
        if claim_condition is not None:
            conditions.append(claim_condition)
        return statement.where(*conditions) if conditions else statement

    @staticmethod
    def _counts(session: Session, base: Select[ItemRow, CaseRow], now: datetime) -> QueueCounts:
        matching = base.with_only_columns(
            func.count(),
            func.count(case((and_(ItemRow.review_due_at.is_not(None), ItemRow.review_due_at < now), 1))),
        ).order_by(None)
        total, overdue = session.execute(matching).one()
        return QueueCounts(total=int(total), overdue=int(overdue))


def _pending_join() -> Select[ItemRow, CaseRow]:
    return (
        select(ItemRow, CaseRow)
        .join(CaseRow, CaseRow.case_id == ItemRow.case_id)
        .where(ItemRow.status == PENDING, CaseRow.resolution_outcome.is_(None))
    )


def _urgency() -> list[Any]:
    severity = case({s.value: rank for s, rank in SEVERITY_RANK.items()}, value=CaseRow.severity, else_=9)
    tier = case(TIER_RANK, value=CaseRow.customer_tier, else_=9)
    return [ItemRow.review_due_at.is_(None), ItemRow.review_due_at, severity, tier, ItemRow.item_id]


def held_by_other(item: ItemRow, actor: Actor, now: datetime) -> str | None:
    """Who holds ``item`` when it is not ``actor`` and the claim has not expired."""
    if (
        item.claimed_by
        and item.claimed_until
        and item.claimed_until > now
        and item.claimed_by != actor.subject
    ):
        return item.claimed_by
    return None
