"""Recorded cases read back through ``CaseService`` (the service's database, or a pipeline run's).

What the pipeline produced comes from the stored case (classification, similar cases, drafts and their
findings, degraded parts); what happened comes from the case's decisions and resolution, or, for a dataset
run through the pipeline, from the dataset's recorded label, resolution, outcome and time to resolve.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from triage.core.vocabulary import Decision, ItemStatus
from triage.domain.cases.repositories import CaseFilters
from triage.engines.policy.gate import DraftCheck
from triage.engines.retrieval import Neighbour
from triage.evaluation.replay import RecordedCase, WhatHappened

if TYPE_CHECKING:
    from triage.core.events import ExceptionEvent
    from triage.domain.cases.schemas import TriageCase
    from triage.domain.cases.services import CaseService
    from triage.engines.datasets import LabelledText

PAGE = 200
APPROVALS = (Decision.APPROVE, Decision.EDIT_AND_APPROVE)


@dataclass(frozen=True)
class Outcome:
    """A dataset line's recorded facts."""

    label: str
    resolution_action: str | None
    outcome: str | None
    hours_to_resolve: float | None

    @classmethod
    def of(cls, row: LabelledText) -> Outcome:
        record = row.record
        hours = record.get("hours_to_resolve")
        return cls(
            row.label,
            record.get("resolution_action"),
            record.get("outcome"),
            float(hours) if isinstance(hours, int | float) else None,
        )


def iter_cases(
    service: CaseService, *, limit: int | None = None
) -> Iterator[tuple[TriageCase, ExceptionEvent]]:
    """Every stored case (newest first, at most ``limit``) with the event it was triaged from."""
    cursor: str | None = None
    seen = 0
    while True:
        page, cursor = service.list(CaseFilters(), cursor=cursor, limit=PAGE)
        for case in page:
            if limit is not None and seen >= limit:
                return
            seen += 1
            yield case, service.get_event(case.case_id)
        if cursor is None:
            return


def _hours(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 3600.0


def _human_label(case: TriageCase) -> tuple[str | None, str]:
    overrides = [d.label_override for d in case.decisions if d.label_override]
    if overrides:
        return overrides[-1], "reviewer"
    if any(d.decision in APPROVALS for d in case.decisions):
        return case.classification.label, "reviewer"
    return None, "unknown"


def _customer_update_hours(case: TriageCase) -> float | None:
    draft = case.drafts.customer_update if case.drafts else None
    if draft is None:
        return None
    if draft.status == ItemStatus.AUTO_APPROVED:
        return 0.0
    approved = [d.at for d in case.decisions if d.item_id == draft.item_id and d.decision in APPROVALS]
    return _hours(case.created_at, min(approved)) if approved else None


def happened_in_service(case: TriageCase) -> WhatHappened:
    """What the database records about a case the service triaged."""
    truth, source = _human_label(case)
    first = min((d.at for d in case.decisions), default=None)
    resolution = case.resolution
    return WhatHappened(
        true_label=truth,
        label_source=source,
        resolution_action=resolution.resolution_action if resolution else None,
        outcome=resolution.outcome if resolution else None,
        hours_to_resolve=resolution.hours_to_resolve if resolution else None,
        gate_decision=case.gate.decision.value,
        first_decision_hours=_hours(case.created_at, first) if first else None,
        customer_update_hours=_customer_update_hours(case),
        review_sla_met=(first <= case.review_due_at) if first and case.review_due_at else None,
    )


def happened_in_dataset(outcome: Outcome) -> WhatHappened:
    """What a dataset line records (the history predates the service: no gate decision, no review times)."""
    return WhatHappened(
        true_label=outcome.label,
        label_source="dataset",
        resolution_action=outcome.resolution_action,
        outcome=outcome.outcome,
        hours_to_resolve=outcome.hours_to_resolve,
    )


def recorded_case(case: TriageCase, event: ExceptionEvent, happened: WhatHappened) -> RecordedCase:
    alternatives = case.classification.alternatives
    drafts = case.drafts
    return RecordedCase(
        case_id=case.case_id,
        event=event,
        triaged_at=case.created_at,
        label=case.classification.label,
        confidence=case.classification.confidence,
        second_confidence=alternatives[1].confidence if len(alternatives) > 1 else 0.0,
        novelty=case.classification.novelty,
        # the threshold the case was gated with: the replayed policy's own threshold, if it sets one, wins
        novelty_threshold=case.classification.novelty_threshold,
        neighbours=tuple(
            Neighbour(
                s.case_id,
                s.score,
                s.label,
                s.summary,
                s.resolution,
                s.resolution_action,
                s.outcome,
                s.hours_to_resolve,
            )
            for s in case.similar_cases
        ),
        drafts=tuple(
            DraftCheck(kind, draft.generator, [f"{f.check}: {f.span}" for f in draft.findings])
            for kind, draft in (("summary", drafts.summary), ("customer_update", drafts.customer_update))
        )
        if drafts
        else (),
        degraded=tuple(case.degraded),
        happened=happened,
    )


def read_recorded(
    service: CaseService, *, outcomes: Mapping[str, Outcome] | None = None, limit: int | None = None
) -> list[RecordedCase]:
    """Recorded cases oldest first. With ``outcomes`` (by event id) the cases are a dataset run through the
    pipeline: what happened is the dataset's; otherwise the database's own decisions and resolutions."""
    out = []
    for case, event in iter_cases(service, limit=limit):
        known = outcomes.get(event.event_id) if outcomes is not None else None
        if outcomes is not None and known is None:
            continue
        if known is None:
            out.append(recorded_case(case, event, happened_in_service(case)))
        else:
            # a dataset's case is replayed as if triaged when it occurred, so the review queue sees its timeline
            recorded = recorded_case(case, event, happened_in_dataset(known))
            out.append(replace(recorded, triaged_at=event.occurred_at))
    out.sort(key=lambda c: (c.triaged_at, c.case_id))
    return out
