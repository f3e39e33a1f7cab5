"""Database access for the model registry: versions, the pointer (compare-and-swap), jobs, confirmed cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from triage.core.paging import decode_cursor, encode_cursor
from triage.core.vocabulary import Decision
from triage.db.tables import CaseRow, DecisionRow, EventRow, ModelJobRow, ModelPointerRow, ModelVersionRow

POINTER_ID = 1
CONFIRMING = (Decision.APPROVE.value, Decision.EDIT_AND_APPROVE.value)
RELABELLED = "case.relabelled"


@dataclass(frozen=True)
class ConfirmedCase:
    """A case whose category a person confirmed: the event as received and its final label."""

    case_id: str
    event: dict[str, Any]
    label: str
    source: str
    """``relabel``, ``review`` (a label override or an approval) or ``resolution``."""


@dataclass(frozen=True)
class ResolvedCase:
    """A resolved case as it joins a history collection."""

    case_id: str
    event: dict[str, Any]
    label: str
    resolution: str
    resolution_action: str | None
    outcome: str | None
    hours_to_resolve: float | None
    resolved_at: datetime


class ModelRepository:
    def get(self, session: Session, version_id: str) -> ModelVersionRow | None:
        return session.get(ModelVersionRow, version_id)

    def add(self, session: Session, row: ModelVersionRow) -> None:
        session.add(row)
        session.flush()

    def count(self, session: Session) -> int:
        return len(session.execute(select(ModelVersionRow.id)).all())

    def page(
        self, session: Session, cursor: str | None, limit: int
    ) -> tuple[list[ModelVersionRow], str | None]:
        statement = select(ModelVersionRow).order_by(
            ModelVersionRow.created_at.desc(), ModelVersionRow.id.desc()
        )
        if cursor:
            at, last = decode_cursor(cursor, datetime, str)
            statement = statement.where(
                or_(
                    ModelVersionRow.created_at < at,
                    and_(ModelVersionRow.created_at == at, ModelVersionRow.id < last),
                )
            )
        rows = list(session.execute(statement.limit(limit + 1)).scalars())
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, (encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None)

    def pointer(self, session: Session) -> ModelPointerRow:
        return session.execute(select(ModelPointerRow).where(ModelPointerRow.id == POINTER_ID)).scalar_one()

    def swap_pointer(
        self, session: Session, *, generation: int, active_id: str, previous_id: str | None, at: datetime
    ) -> bool:
        """Compare-and-swap: point at ``active_id`` only if nobody changed the pointer since ``generation``."""
        result = session.execute(
            update(ModelPointerRow)
            .where(ModelPointerRow.id == POINTER_ID, ModelPointerRow.generation == generation)
            .values(active_id=active_id, previous_id=previous_id, generation=generation + 1, changed_at=at)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def take_job_lease(self, session: Session, job_id: str, *, now: datetime, until: datetime) -> bool:
        """Hold the one model-job lease unless another job holds an unexpired one."""
        result = session.execute(
            update(ModelPointerRow)
            .where(
                ModelPointerRow.id == POINTER_ID,
                or_(
                    ModelPointerRow.job_lease_until.is_(None),
                    ModelPointerRow.job_lease_until < now,
                    ModelPointerRow.job_id == job_id,
                ),
            )
            .values(job_id=job_id, job_lease_until=until)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def release_job_lease(self, session: Session, job_id: str) -> None:
        session.execute(
            update(ModelPointerRow)
            .where(ModelPointerRow.id == POINTER_ID, ModelPointerRow.job_id == job_id)
            .values(job_lease_until=None)
            .execution_options(synchronize_session=False)
        )

    def job(self, session: Session, job_id: str) -> ModelJobRow | None:
        return session.get(ModelJobRow, job_id)

    def jobs(self, session: Session, limit: int, kind: str | None = None) -> list[ModelJobRow]:
        statement = select(ModelJobRow).order_by(ModelJobRow.created_at.desc(), ModelJobRow.id.desc())
        if kind is not None:
            statement = statement.where(ModelJobRow.kind == kind)
        return list(session.execute(statement.limit(limit)).scalars())

    def confirmed_cases(self, session: Session) -> list[ConfirmedCase]:
        """Cases a person confirmed the category of, with the final label: re-labelled cases, cases with a
        reviewer's label override or approval, and resolved cases (the workflow closed them under that label)."""
        relabelled = set(
            session.execute(select(EventRow.subject).where(EventRow.type == RELABELLED)).scalars()
        )
        overrides: dict[str, str] = {}
        approved: set[str] = set()
        for case_id, override, decision in session.execute(
            select(DecisionRow.case_id, DecisionRow.label_override, DecisionRow.decision).order_by(
                DecisionRow.id
            )
        ):
            if override:
                overrides[case_id] = override
            if decision in CONFIRMING:
                approved.add(case_id)
        wanted = relabelled | set(overrides) | approved
        statement = select(CaseRow.case_id, CaseRow.event, CaseRow.label, CaseRow.resolved_at).order_by(
            CaseRow.created_at, CaseRow.case_id
        )
        out = []
        for case_id, event, label, resolved_at in session.execute(statement):
            if case_id not in wanted and resolved_at is None:
                continue
            source = (
                "relabel"
                if case_id in relabelled
                else "review"
                if case_id in overrides or case_id in approved
                else "resolution"
            )
            final = label if case_id in relabelled else overrides.get(case_id, label)
            out.append(ConfirmedCase(case_id, event, final, source))
        return out

    def resolved_cases(self, session: Session) -> list[ResolvedCase]:
        statement = (
            select(CaseRow)
            .where(CaseRow.resolved_at.is_not(None))
            .order_by(CaseRow.resolved_at, CaseRow.case_id)
        )
        return [
            ResolvedCase(
                case_id=row.case_id,
                event=row.event,
                label=row.label,
                resolution=row.resolution_text or "",
                resolution_action=row.resolution_action,
                outcome=row.resolution_outcome,
                hours_to_resolve=row.hours_to_resolve,
                resolved_at=row.resolved_at,
            )
            for row in session.execute(statement).scalars()
            if row.resolved_at is not None
        ]
