"""Database access for the audit log: insert and read only; there is deliberately no update or delete."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, insert, select, update
from sqlalchemy.orm import Session

from triage.db.tables import AuditHeadRow, AuditLogRow, table_of
from triage.domain.audit.schemas import AuditFilters

HEAD_ID = 1
SelectT = TypeVar("SelectT", bound=Select[Any])


class AuditRepository:
    def lock_head(self, session: Session) -> tuple[int, str]:
        """The head's ``(seq, hash)``, its row locked until the transaction ends (PostgreSQL ``FOR UPDATE``; on
        SQLite the transaction already holds the write lock from ``BEGIN IMMEDIATE``)."""
        statement = (
            select(AuditHeadRow.seq, AuditHeadRow.hash).where(AuditHeadRow.id == HEAD_ID).with_for_update()
        )
        seq, hash_ = session.execute(statement).one()
        return seq, hash_

    def advance_head(self, session: Session, *, seq: int, hash_: str, at: datetime, signature: str) -> None:
        """Move the (locked) head to the record ``seq`` with ``hash_``."""
        statement = (
            update(table_of(AuditHeadRow))
            .where(table_of(AuditHeadRow).c.id == HEAD_ID)
            .values(seq=seq, hash=hash_, at=at, signature=signature)
        )
        session.execute(statement)

    def head(self, session: Session) -> AuditHeadRow:
        return session.execute(select(AuditHeadRow).where(AuditHeadRow.id == HEAD_ID)).scalar_one()

    def insert(self, session: Session, rows: Sequence[dict[str, Any]]) -> None:
        """Insert records given as column values (one Core executemany: no ORM object or bulk-ORM step per
        record)."""
        session.execute(insert(table_of(AuditLogRow)), list(rows))

    def iter_all(self, session: Session, batch: int = 1000) -> Iterator[AuditLogRow]:
        """Every record in sequence order, fetched in batches by key so memory stays flat."""
        after = 0
        while True:
            rows = self.page(session, AuditFilters(), after=after, limit=batch)
            yield from rows
            if len(rows) < batch:
                return
            after = rows[-1].seq
            session.expunge_all()

    def iter_links(
        self, session: Session, *, upto: int, batch: int = 5000
    ) -> Iterator[tuple[int, str, str, str]]:
        """``(seq, prev_hash, hash, signature)`` of records ``1..upto`` in sequence order, without their JSON:
        enough to check the chain's links and HMACs and to build the Merkle tree."""
        after = 0
        while after < upto:
            statement = (
                select(AuditLogRow.seq, AuditLogRow.prev_hash, AuditLogRow.hash, AuditLogRow.signature)
                .where(AuditLogRow.seq > after, AuditLogRow.seq <= upto)
                .order_by(AuditLogRow.seq)
                .limit(batch)
            )
            rows = [(row[0], row[1], row[2], row[3]) for row in session.execute(statement)]
            yield from rows
            if len(rows) < batch:
                return
            after = rows[-1][0]

    def seqs(self, session: Session, filters: AuditFilters, *, upto: int) -> list[int]:
        """The sequence numbers of the records matching ``filters`` among ``1..upto``, in order."""
        statement = _filtered(select(AuditLogRow.seq), filters).where(AuditLogRow.seq <= upto)
        return list(session.execute(statement.order_by(AuditLogRow.seq)).scalars())

    def page(
        self, session: Session, filters: AuditFilters, *, after: int, limit: int, upto: int | None = None
    ) -> list[AuditLogRow]:
        statement = _filtered(select(AuditLogRow), filters).where(AuditLogRow.seq > after)
        if upto is not None:
            statement = statement.where(AuditLogRow.seq <= upto)
        return list(session.execute(statement.order_by(AuditLogRow.seq).limit(limit)).scalars())


def _filtered(statement: SelectT, filters: AuditFilters) -> SelectT:
    if filters.case_id is not None:
        statement = statement.where(AuditLogRow.case_id == filters.case_id)
    if filters.order_id is not None:
        statement = statement.where(AuditLogRow.order_id == filters.order_id)
    if filters.actor is not None:
        statement = statement.where(AuditLogRow.actor_subject == filters.actor)
    if filters.action is not None:
        statement = statement.where(AuditLogRow.action == filters.action)
    if filters.since is not None:
        statement = statement.where(AuditLogRow.at >= filters.since)
    if filters.until is not None:
        statement = statement.where(AuditLogRow.at < filters.until)
    return statement
