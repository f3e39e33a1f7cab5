"""Which review items a caller may decide, and how an item reads in the queue (shared by the queue and the
decisions, so what a reviewer is offered and what they may decide can never disagree)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, or_

from triage.core.actors import Actor, Role
from triage.core.vocabulary import ItemStatus
from triage.db.tables import CaseRow, ItemRow
from triage.domain.auth.policy import visible_teams
from triage.domain.reviews.schemas import ReviewItemRead


def decidable_by(statement: Select[ItemRow, CaseRow], actor: Actor) -> Select[ItemRow, CaseRow]:
    """Restrict an item-and-case query to the items ``actor`` may decide (admin: sees all, decides none)."""
    teams = visible_teams(actor)
    if teams is not None:
        statement = statement.where(
            CaseRow.team.in_(teams),
            or_(ItemRow.requires_team.is_(None), ItemRow.requires_team.in_(teams)),
        )
    if actor.role is Role.ADMIN:
        return statement
    role = actor.role_name
    may_decide = [ItemRow.requires_role == role, ItemRow.escalated_to == role]
    if actor.role is Role.SUPERVISOR:
        may_decide.append(ItemRow.requires_role == Role.AGENT.value)
    statement = statement.where(or_(*may_decide))
    if teams is None:
        statement = statement.where(
            or_(ItemRow.requires_team.is_(None), ItemRow.requires_team.in_(actor.teams))
        )
    return statement


def item_read(item: ItemRow, case: CaseRow, now: datetime) -> ReviewItemRead:
    held = item.claimed_by is not None and item.claimed_until is not None and item.claimed_until > now
    return ReviewItemRead(
        case_id=case.case_id,
        item_id=item.item_id,
        version=item.version,
        kind=item.kind,
        key=item.key,
        action=item.action,
        text=item.original_text,
        edited_text=item.edited_text,
        edited_by=item.edited_by,
        generator=item.generator,
        risk=item.risk,
        status=item.status,
        requires_role=item.requires_role,
        requires_team=item.requires_team,
        four_eyes=item.four_eyes,
        awaiting_second_approval=item.edited_by is not None and item.status == ItemStatus.PENDING_REVIEW,
        findings=list(item.findings),
        reasons=list(item.reasons),
        label=case.label,
        confidence=case.confidence,
        severity=case.severity,
        team=case.team,
        site=case.site,
        customer_tier=case.customer_tier,
        order_id=case.order_id,
        customer_id=case.customer_id,
        review_due_at=item.review_due_at,
        overdue=item.review_due_at is not None and item.review_due_at < now,
        escalated_at=item.escalated_at,
        escalated_to=item.escalated_to,
        claimed_by=item.claimed_by if held else None,
        claimed_until=item.claimed_until if held else None,
    )
