"""Human edits get the fact-check drafts get: the same facts of the case, the same checks.

The case's draft context is rebuilt from what was stored at triage (the event, the classification, the
neighbours used as evidence), so an edit is checked against exactly the facts the original draft had.
"""

from __future__ import annotations

from typing import Any

from triage.core.events import ExceptionEvent
from triage.db.tables import CaseRow
from triage.domain.cases.schemas import FindingRead
from triage.engines.drafting import DraftContext, Drafter, NeighbourFacts
from triage.engines.drafting.models import DraftKind


def stored_draft_context(case: CaseRow) -> DraftContext:
    """The draft context of a stored case, as the flow built it at triage."""
    response: dict[str, Any] = case.response
    classification = response.get("classification") or {}
    predicted = response.get("predicted_resolution") or {}
    return DraftContext(
        event=ExceptionEvent.model_validate(case.event),
        label=case.label,
        confidence=float(classification.get("confidence") or case.confidence),
        abstained=bool(classification.get("abstained")),
        severity=case.severity,
        owner_team=case.owner_team,
        neighbours=[
            NeighbourFacts(
                case_id=n.get("case_id", ""),
                label=n.get("label", ""),
                resolution_action=n.get("resolution_action"),
                resolution=n.get("resolution", ""),
                outcome=n.get("outcome"),
                hours_to_resolve=n.get("hours_to_resolve"),
            )
            for n in response.get("similar_cases") or []
        ],
        predicted_action=predicted.get("action"),
    )


def edit_findings(drafter: Drafter, case: CaseRow, kind: DraftKind, text: str) -> list[FindingRead]:
    """The fact-check findings of a human edit of draft ``kind`` of ``case``."""
    return [
        FindingRead(
            check=f.check, severity=f.severity, span=f.span, message=f.message, start=f.start, end=f.end
        )
        for f in drafter.check(stored_draft_context(case), kind, text)
    ]
