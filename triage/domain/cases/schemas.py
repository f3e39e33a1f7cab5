"""Response and request schemas of the cases domain (the contract's ``TriageCase`` and its parts)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from triage.core.events import ExceptionEvent
from triage.core.text import FreeText
from triage.core.vocabulary import CaseStatus, Decision, GateDecision, GateMode, ItemStatus, Severity


class Read(BaseModel):
    model_config = ConfigDict(from_attributes=False)


class LabelConfidence(Read):
    label: str
    confidence: float


class ClassificationRead(Read):
    label: str
    confidence: float = Field(ge=0, le=1)
    alternatives: list[LabelConfidence]
    abstained: bool = False
    abstain_reason: str | None = None


class SimilarCaseRead(Read):
    case_id: str
    score: float
    label: str
    summary: str
    resolution: str
    resolution_action: str | None = None
    outcome: str | None = None
    hours_to_resolve: float | None = None


class PredictedResolutionRead(Read):
    action: str | None
    confidence: float
    support: int = Field(description="How many neighbours voted for the action.")
    weight: float = Field(description="Similarity weight of those neighbours.")
    total_weight: float
    reason: str | None = Field(default=None, description="Why no action is predicted, when absent.")


class FindingRead(Read):
    check: str
    severity: Literal["error", "warning"]
    span: str
    message: str
    start: int | None = None
    end: int | None = None


class DraftRead(Read):
    item_id: str | None = None
    text: str
    generator: Literal["llm", "template", "template-fallback"]
    status: ItemStatus
    findings: list[FindingRead] = Field(default_factory=list)
    requires_role: str | None = None


class DraftsRead(Read):
    summary: DraftRead
    customer_update: DraftRead


class RecommendationRead(Read):
    id: str
    action: str
    risk: Literal["low", "medium", "high"]
    status: ItemStatus
    requires_role: str | None
    reasons: list[str] = Field(default_factory=list)


class GateReasonRead(Read):
    item: str
    rule: str
    detail: str


class GateRead(Read):
    decision: GateDecision
    reasons: list[GateReasonRead]
    mode: GateMode


class VersionsRead(Read):
    model: str
    policy: str
    prompts: str
    embedding_model: str | None = None


class CaseDecisionRead(Read):
    """One human decision on one of the case's items."""

    item_id: str = Field(description="The recommendation or draft decided.")
    decision: Decision = Field(description="approve | reject | edit_and_approve.")
    decided_by: str = Field(description="Who decided (the API key's subject).")
    role: str = Field(description="Their role when deciding.")
    reason: str | None = Field(default=None, description="Why (required to reject or to override the label).")
    label_override: str | None = Field(default=None, description="The reviewer's label, when it differs.")
    text: str | None = Field(default=None, description="The draft's text after the decision (drafts only).")
    at: datetime = Field(description="When.")


class ResolutionRead(Read):
    """The final outcome the workflow recorded."""

    outcome: str
    resolution_action: str
    resolution: str
    hours_to_resolve: float | None = None
    resolved_by: str
    resolved_at: datetime


class TriageCase(Read):
    """What ``POST /v1/exceptions`` returns and ``GET /v1/cases/{id}`` shows."""

    case_id: str
    event_id: str
    status: CaseStatus = Field(description="Where the case stands; see CaseStatus for the lifecycle.")
    created_at: datetime
    classification: ClassificationRead
    severity: Severity
    owner_team: str
    similar_cases: list[SimilarCaseRead]
    predicted_resolution: PredictedResolutionRead | None
    recommendations: list[RecommendationRead]
    drafts: DraftsRead | None
    gate: GateRead
    versions: VersionsRead
    degraded: list[str]
    review_due_at: datetime | None = None
    version: int = Field(default=1, description="Goes up with every change to the case (also its ETag).")
    updated_at: datetime | None = Field(default=None, description="When the case last changed.")
    decisions: list[CaseDecisionRead] = Field(
        default_factory=list, description="Human decisions on the case's items, oldest first."
    )
    resolution: ResolutionRead | None = Field(
        default=None, description="The recorded outcome, once resolved."
    )


class ResolutionCreate(BaseModel):
    """Body of ``POST /v1/cases/{case_id}/resolution``: the final outcome, which joins the history."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    outcome: Literal["resolved", "partially_resolved", "customer_cancelled", "escalated"]
    resolution_action: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")
    resolution: FreeText = Field(min_length=1, max_length=4000)
    hours_to_resolve: float | None = Field(default=None, ge=0, le=24 * 365)


__all__ = ["CaseStatus", "ExceptionEvent", "GateDecision", "ItemStatus", "Severity", "TriageCase"]
