"""Re-labelling: a reviewer corrects the category, and the case is worked again for the new one.

The pipeline's own steps run again with the human's label: similar cases of the new category, new drafts, the
gate for the new category's actions. The case moves to the new owner team; the old category's open items are
superseded. Nothing the re-label produces is auto-approved — a person confirms the new category's items — and
the whole change is audited and announced (``case.relabelled``) in one transaction.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from triage.core.actors import Actor
from triage.core.clock import utc_now
from triage.core.errors import InvalidInput
from triage.core.events import ExceptionEvent, classification_text
from triage.core.text import FreeText
from triage.core.vocabulary import ItemStatus
from triage.domain.cases.assembly import TriageResult, case_response, item_records
from triage.domain.cases.records import ItemRecord
from triage.domain.cases.schemas import TriageCase
from triage.engines.classifier import Alternative, Prediction
from triage.engines.retrieval import CaseFilters

if TYPE_CHECKING:
    from triage.domain.cases.flow import TriageFlow
    from triage.domain.cases.services import CaseService

RELABEL_REVIEW = {
    "rule": "relabel",
    "detail": "re-labelled by a person: a person confirms the new category's items",
}


class RelabelCreate(BaseModel):
    """Body of ``POST /v1/cases/{case_id}/relabel``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    label: str = Field(
        min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$", description="The right category."
    )
    reason: FreeText = Field(
        min_length=1, max_length=2000, description="Why the category was wrong (audited)."
    )
    expected_version: int = Field(ge=1, description="The case version the reviewer saw (a stale one is 409).")


@dataclass(frozen=True)
class Relabelled:
    """What a re-label produced, handed to ``CaseService.apply_relabel``."""

    case: TriageCase
    items: list[ItemRecord]
    team: str
    reason: str
    from_label: str
    expected_version: int
    escalation_role: str | None


class RelabelService:
    def __init__(self, flow: TriageFlow, cases: CaseService) -> None:
        self.flow = flow
        self.cases = cases

    async def relabel(self, case_id: str, body: RelabelCreate, actor: Actor) -> TriageCase:
        taxonomy = self.flow.engines.taxonomy
        if body.label not in taxonomy.labels:
            raise InvalidInput(f"label {body.label!r} is not one of {', '.join(taxonomy.labels)}")
        current = await asyncio.to_thread(self.cases.get, case_id, actor)
        if current.classification.label == body.label:
            raise InvalidInput(f"the case is already labelled {body.label!r}")
        event = await asyncio.to_thread(self.cases.get_event, case_id, actor)
        result = await self._rework(event, body.label, actor)
        now = utc_now()
        items = [_for_review(item) for item in item_records(result)]
        gate = result.gate
        due = now + timedelta(minutes=gate.review_due_minutes) if gate.review_due_minutes else None
        response = case_response(result, items, case_id=case_id, now=current.created_at, review_due_at=due)
        response = response.model_copy(update={"event_id": current.event_id, "updated_at": now})
        relabelled = Relabelled(
            case=response,
            items=items,
            team=result.owner_team,
            reason=body.reason,
            from_label=current.classification.label,
            expected_version=body.expected_version,
            escalation_role=gate.escalation_role,
        )
        return await asyncio.to_thread(self.cases.apply_relabel, case_id, relabelled, actor)

    async def _rework(self, event: ExceptionEvent, label: str, actor: Actor) -> TriageResult:
        flow, taxonomy = self.flow, self.flow.engines.taxonomy
        policy = flow.policies.current
        text = classification_text(event)
        human = Prediction(label=label, confidence=1.0, alternatives=[Alternative(label, 1.0)])
        retrieved = await flow.retrieve(text, CaseFilters(label=label), policy)
        severity = taxonomy.severity_for(event, label)
        started_at = asyncio.get_running_loop().time()
        drafts = await flow.draft(event, human, severity, retrieved, policy, started_at)
        degraded = sorted(({"retrieval"} if retrieved.degraded else set()) | set(drafts.degraded))
        gate = flow.gate(policy, human, event, severity, retrieved, drafts, degraded)
        return TriageResult(
            event=event,
            actor=actor,
            body_hash="",
            text=text,
            policy=policy,
            prediction=human,
            severity=severity,
            owner_team=taxonomy.owner_team(label),
            manual_desk_team=taxonomy.manual_desk_team,
            retrieved=retrieved,
            drafts=drafts,
            gate=gate,
            degraded=degraded,
            versions=flow.versions(policy),
        )


def _for_review(item: ItemRecord) -> ItemRecord:
    """A re-label never auto-approves: what the gate would have approved waits for a person instead."""
    if item.status != ItemStatus.AUTO_APPROVED:
        return item
    return replace(
        item,
        status=ItemStatus.PENDING_REVIEW,
        requires_role=item.requires_role or "agent",
        reasons=[RELABEL_REVIEW, *item.reasons],
    )
