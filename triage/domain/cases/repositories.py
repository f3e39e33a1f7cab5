"""Database access for cases and their items."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, inspect, or_, select
from sqlalchemy.orm import Session

from triage.core.paging import decode_cursor, encode_cursor
from triage.db.tables import Base, CaseRow, DecisionRow, ItemRow, table_of


@dataclass(frozen=True)
class CaseFilters:
    status: str | None = None
    label: str | None = None
    customer_id: str | None = None
    team: str | None = None
    visible_teams: frozenset[str] | None = None
    """None: every team; otherwise only cases owned by one of these teams (an agent's queues)."""
    updated_since: datetime | None = None


class CaseRepository:
    def add(self, session: Session, case: CaseRow, items: Sequence[ItemRow]) -> None:
        """Insert a new case and its items (Core inserts of the values set on the rows: no unit-of-work flush;
        ``case`` and ``items`` stay outside the session)."""
        session.execute(insert(table_of(CaseRow)), [_set_values(case)])
        if items:
            session.execute(insert(table_of(ItemRow)), [_set_values(item) for item in items])

    def get(self, session: Session, case_id: str, *, for_update: bool = False) -> CaseRow | None:
        statement = select(CaseRow).where(CaseRow.case_id == case_id)
        if for_update:
            statement = statement.with_for_update().execution_options(populate_existing=True)
        return session.execute(statement).scalar_one_or_none()

    def by_event_id(self, session: Session, event_id: str) -> CaseRow | None:
        return session.execute(select(CaseRow).where(CaseRow.event_id == event_id)).scalar_one_or_none()

    def items(self, session: Session, case_ids: Sequence[str]) -> dict[str, list[ItemRow]]:
        grouped: dict[str, list[ItemRow]] = {case_id: [] for case_id in case_ids}
        if not case_ids:
            return grouped
        statement = (
            select(ItemRow).where(ItemRow.case_id.in_(case_ids)).order_by(ItemRow.case_id, ItemRow.position)
        )
        for item in session.execute(statement).scalars():
            grouped[item.case_id].append(item)
        return grouped

    def decisions(self, session: Session, case_ids: Sequence[str]) -> dict[str, list[DecisionRow]]:
        grouped: dict[str, list[DecisionRow]] = {case_id: [] for case_id in case_ids}
        if case_ids:
            statement = select(DecisionRow).where(DecisionRow.case_id.in_(case_ids)).order_by(DecisionRow.id)
            for decision in session.execute(statement).scalars():
                grouped[decision.case_id].append(decision)
        return grouped

    def page(
        self, session: Session, filters: CaseFilters, *, cursor: str | None, limit: int
    ) -> list[CaseRow]:
        """Newest first, keyed on (created_at, case_id) so pages are stable while cases arrive."""
        statement = select(CaseRow)
        if filters.status is not None:
            statement = statement.where(CaseRow.status == filters.status)
        if filters.label is not None:
            statement = statement.where(CaseRow.label == filters.label)
        if filters.customer_id is not None:
            statement = statement.where(CaseRow.customer_id == filters.customer_id)
        if filters.team is not None:
            statement = statement.where(CaseRow.team == filters.team)
        if filters.updated_since is not None:
            statement = statement.where(CaseRow.updated_at >= filters.updated_since)
        if filters.visible_teams is not None:
            statement = statement.where(CaseRow.team.in_(sorted(filters.visible_teams)))
        if cursor:
            created_at, case_id = decode_cursor(cursor, datetime, str)
            statement = statement.where(
                or_(
                    CaseRow.created_at < created_at,
                    and_(CaseRow.created_at == created_at, CaseRow.case_id < case_id),
                )
            )
        statement = statement.order_by(CaseRow.created_at.desc(), CaseRow.case_id.desc()).limit(limit)
        return list(session.execute(statement).scalars())


def next_page_cursor(rows: Sequence[CaseRow], limit: int) -> str | None:
    """The cursor after the last of ``rows`` when more than ``limit`` were found (the page ends there)."""
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    return encode_cursor(last.created_at, last.case_id)


def _set_values(row: Base) -> dict[str, Any]:
    """The column values set on a new ``row``: what the ORM would insert for it (unset columns take their
    defaults)."""
    state = inspect(row)
    return {
        attr.columns[0].key: state.dict[attr.key]
        for attr in state.mapper.column_attrs
        if attr.key in state.dict
    }
