"""The model jobs' records: started under the one model-job lease, their progress, how they ended."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from triage.core.clock import Clock
from triage.core.errors import NotFound
from triage.core.paging import MAX_PAGE, clamp_limit
from triage.db.engine import read_snapshot, unit_of_work
from triage.db.tables import ModelJobRow
from triage.domain.models.repositories import ModelRepository
from triage.domain.models.schemas import JobStatus, ModelJobRead


def _job(row: ModelJobRow) -> ModelJobRead:
    return ModelJobRead.model_validate(row, from_attributes=True)


class ModelJobRecords:
    """Part of ``ModelRegistry``: the ``model_jobs`` rows and the lease."""

    sessions: sessionmaker[Session]
    clock: Clock
    repository: ModelRepository

    def start_job(self, kind: str, *, lease_s: float, log_file: str | None = None) -> ModelJobRead | None:
        """Create a running job holding the one model-job lease; None when another job holds it."""
        now = self.clock()
        job_id = f"job_{now.strftime('%Y%m%d_%H%M%S')}_{uuid.uuid4().hex[:6]}"
        with unit_of_work(self.sessions) as session:
            if not self.repository.take_job_lease(
                session, job_id, now=now, until=now + timedelta(seconds=lease_s)
            ):
                return None
            pointer = self.repository.pointer(session)
            row = ModelJobRow(
                id=job_id,
                kind=kind,
                status=JobStatus.RUNNING.value,
                base_version_id=pointer.active_id,
                step="starting",
                progress=0.0,
                created_at=now,
                updated_at=now,
                log_file=log_file,
            )
            session.add(row)
            session.flush()
            return _job(row)

    def report_job(self, job_id: str, *, lease_s: float, **values: Any) -> None:
        """Record a job's progress (``step``, ``progress``, ``detail``, ``pid`` ...) and renew its lease."""
        now = self.clock()
        with unit_of_work(self.sessions) as session:
            row = self.repository.job(session, job_id)
            if row is None:
                raise NotFound(f"no model job {job_id!r}")
            for name, value in values.items():
                setattr(row, name, value)
            row.updated_at = now
            self.repository.take_job_lease(session, job_id, now=now, until=now + timedelta(seconds=lease_s))

    def finish_job(self, job_id: str, status: JobStatus, **values: Any) -> None:
        """End a job (its outcome, or why it failed) and release the lease."""
        now = self.clock()
        with unit_of_work(self.sessions) as session:
            row = self.repository.job(session, job_id)
            if row is None:
                raise NotFound(f"no model job {job_id!r}")
            if row.finished_at is not None:
                return
            for name, value in values.items():
                setattr(row, name, value)
            row.status, row.finished_at, row.updated_at, row.pid = status.value, now, now, None
            if status != JobStatus.FAILED:
                row.progress = 1.0
            self.repository.release_job_lease(session, job_id)

    def jobs(self, limit: int = 20, kind: str | None = None) -> list[ModelJobRead]:
        with read_snapshot(self.sessions) as session:
            return [_job(r) for r in self.repository.jobs(session, clamp_limit(limit, MAX_PAGE), kind)]

    def job(self, job_id: str) -> ModelJobRead:
        with read_snapshot(self.sessions) as session:
            row = self.repository.job(session, job_id)
            if row is None:
                raise NotFound(f"no model job {job_id!r}")
            return _job(row)
