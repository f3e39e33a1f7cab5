"""The ``api_keys`` table behind the key service's :class:`~triage.domain.auth.services.ApiKeyStore` port.

Each call is its own short transaction: keys are read by the authentication middleware, outside any request
transaction, and written by the CLI.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from triage.db.engine import read_snapshot, unit_of_work
from triage.db.tables import ApiKeyRow
from triage.domain.auth.schemas import ApiKeyRecord


def _to_record(row: ApiKeyRow) -> ApiKeyRecord:
    return ApiKeyRecord(
        key_id=row.key_id,
        key_hash=row.key_hash,
        prefix=row.prefix,
        role=row.role,
        subject=row.subject,
        teams=tuple(str(team) for team in row.teams or ()),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


class ApiKeyRepository:
    """API key rows in the service database (SQLite or PostgreSQL)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def add(self, record: ApiKeyRecord) -> None:
        with unit_of_work(self.sessions) as session:
            session.add(
                ApiKeyRow(
                    key_id=record.key_id,
                    key_hash=record.key_hash,
                    prefix=record.prefix,
                    role=record.role,
                    subject=record.subject,
                    teams=list(record.teams),
                    created_at=record.created_at,
                    revoked_at=record.revoked_at,
                )
            )

    def get(self, key_id: str) -> ApiKeyRecord | None:
        with read_snapshot(self.sessions) as session:
            row = session.get(ApiKeyRow, key_id)
            return _to_record(row) if row is not None else None

    def revoke(self, key_id: str, at: datetime) -> bool:
        with unit_of_work(self.sessions) as session:
            result = session.execute(
                update(ApiKeyRow)
                .where(ApiKeyRow.key_id == key_id, ApiKeyRow.revoked_at.is_(None))
                .values(revoked_at=at)
            )
            return bool(getattr(result, "rowcount", 0))

    def count(self) -> int:
        with read_snapshot(self.sessions) as session:
            return int(session.scalar(select(func.count()).select_from(ApiKeyRow)) or 0)

    def list(self) -> Sequence[ApiKeyRecord]:
        with read_snapshot(self.sessions) as session:
            rows = session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at, ApiKeyRow.key_id))
            return [_to_record(row) for row in rows]
