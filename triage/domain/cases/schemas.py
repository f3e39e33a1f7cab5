"""Response and request schemas of the cases domain (the contract's ``TriageCase`` and its parts)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from triage.core.events import ExceptionEvent
from triage.core.text import FreeText
from triage.core.vocabulary import CaseStatus, Decision, GateDecision, GateMode, ItemStatus, Severity


class Read(BaseModel):
    """Base of the response schemas."""

    model_config = ConfigDict(from_attributes=False)


class LabelConfidence(Read):
    """A category and the classifier's confidence in it."""

    label: str = Field(description="A category (a taxonomy label).")
    confidence: float = Field(description="The classifier's confidence in the category, 0 to 1.")


class ClassificationRead(Read):
    """The category the classifier chose for the case, and how sure it was."""

    label: str = Field(description="The category the case is worked as (a taxonomy label).")
    confidence: float = Field(ge=0, le=1, description="The classifier's confidence in the label, 0 to 1.")
    alternatives: list[LabelConfidence] = Field(
        description="The most likely categories with their confidence, most likely first (the label included)."
    )
    abstained: bool = Field(
        default=False,
        description="True when the classifier was not sure enough: the case goes to the manual triage desk.",
    )
    abstain_reason: str | None = Field(
        default=None,
        description="Why it abstained (confidence or margin against the policy); null otherwise.",
    )
    novelty: float | None = Field(
        default=None,
        description=(
            "How unlike the model's training rows the text is: one minus its mean cosine similarity to the five "
            "nearest training rows (0 = like them). Null when the model in force does not measure it."
        ),
    )
    novelty_threshold: float | None = Field(
        default=None,
        description="The novelty at or above which the text counts as novel (the policy's, else the model's).",
    )
    novel: bool = Field(
        default=False,
        description="True when the text is novel: the policy's novelty rule sends the case to a person.",
    )


class SimilarCaseRead(Read):
    """A resolved case from the history that resembles this one."""

    case_id: str = Field(description="The historical case's id.")
    score: float = Field(description="Similarity to this case; higher is closer.")
    label: str = Field(description="The historical case's category.")
    summary: str = Field(description="What happened in that case.")
    resolution: str = Field(description="How that case was resolved, in words.")
    resolution_action: str | None = Field(
        default=None, description="The action that resolved it; null when not recorded."
    )
    outcome: str | None = Field(default=None, description="How it ended; null when not recorded.")
    hours_to_resolve: float | None = Field(
        default=None, description="Hours from the exception to the resolution; null when not recorded."
    )


class PredictedResolutionRead(Read):
    """The resolution action the similar cases point to: a similarity-weighted vote."""

    action: str | None = Field(description="The predicted resolution action; null when none is predicted.")
    confidence: float = Field(description="weight / total_weight, 0 to 1.")
    support: int = Field(description="How many neighbours voted for the action.")
    weight: float = Field(description="Similarity weight of those neighbours.")
    total_weight: float = Field(description="Similarity weight of every neighbour that voted.")
    reason: str | None = Field(default=None, description="Why no action is predicted, when absent.")


class FindingRead(Read):
    """One problem the fact-check found in a draft's text."""

    check: str = Field(description="The fact-check rule that found it.")
    severity: Literal["error", "warning"] = Field(description="error | warning.")
    span: str = Field(description="The offending text.")
    message: str = Field(description="What is wrong with it.")
    start: int | None = Field(
        default=None, description="Offset of the span's first character in the text; null when not located."
    )
    end: int | None = Field(
        default=None, description="Offset just past the span's last character; null when not located."
    )


class DraftRead(Read):
    """A drafted text and where it stands."""

    item_id: str | None = Field(default=None, description="The draft's review item (decide it by this id).")
    text: str = Field(description="The drafted text.")
    generator: Literal["llm", "template", "template-fallback"] = Field(
        description="What wrote it: the LLM, a template, or the template after the LLM failed."
    )
    status: ItemStatus = Field(description="Where the draft stands: the gate's word, then a reviewer's.")
    findings: list[FindingRead] = Field(
        default_factory=list, description="What the fact-check found in the text; empty when nothing."
    )
    requires_role: str | None = Field(
        default=None, description="The role that must approve it; null when auto-approved."
    )


class DraftsRead(Read):
    """The two texts drafted for the case."""

    summary: DraftRead = Field(description="An internal summary of the case for the team.")
    customer_update: DraftRead = Field(description="A message to the customer about the exception.")


class RecommendationRead(Read):
    """An action the service recommends for the case, and what the gate made of it."""

    id: str = Field(description="The recommendation's review item id (decide it by this id).")
    action: str = Field(description="The recommended action (from the taxonomy).")
    risk: Literal["low", "medium", "high"] = Field(description="The action's risk, as the policy rates it.")
    status: ItemStatus = Field(description="Where it stands: the gate's word, then a reviewer's.")
    requires_role: str | None = Field(description="The role that must approve it; null when auto-approved.")
    reasons: list[str] = Field(
        default_factory=list,
        description="The gate's reasons for its status, one line per rule (rule: detail).",
    )


class GateReasonRead(Read):
    """One rule behind the gate's decision: what held an item back, or that every rule passed."""

    item: str = Field(
        description="The item key (e.g. recommendation:credit_hold), or `case` for the whole case."
    )
    rule: str = Field(description="Where the rule lives in the policy, e.g. thresholds.credit_hold.auto.")
    detail: str = Field(description="The fact against the rule, e.g. confidence 0.9100 < 0.9500.")


class GateRead(Read):
    """What the policy gate decided for the case, before any human."""

    decision: GateDecision = Field(description="The gate's verdict on the whole case.")
    reasons: list[GateReasonRead] = Field(description="The rules behind the decision, item by item.")
    mode: GateMode = Field(description="How far the policy lets the gate act on this category.")


class VersionsRead(Read):
    """The versions that decided the case, to reconstruct the decision later."""

    model: str = Field(description="The classifier's version.")
    policy: str = Field(description="The policy's version (SHA-256 of the validated policy).")
    prompts: str = Field(description="The version of the drafting prompts and templates.")
    embedding_model: str | None = Field(
        default=None, description="The embedding model used for similar cases; null when not recorded."
    )


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

    outcome: str = Field(description="resolved | partially_resolved | customer_cancelled | escalated.")
    resolution_action: str = Field(description="The action that resolved the case.")
    resolution: str = Field(description="How the case was resolved, in words.")
    hours_to_resolve: float | None = Field(
        default=None, description="Hours from the exception to the resolution; null when not given."
    )
    resolved_by: str = Field(description="Who recorded the outcome (the API key's subject).")
    resolved_at: datetime = Field(description="When the outcome was recorded.")


class TriageCase(Read):
    """What ``POST /v1/exceptions`` returns and ``GET /v1/cases/{id}`` shows."""

    case_id: str = Field(description="The case's id.")
    event_id: str = Field(description="The event_id of the exception that opened the case.")
    status: CaseStatus = Field(description="Where the case stands; see CaseStatus for the lifecycle.")
    created_at: datetime = Field(description="When the case was triaged.")
    classification: ClassificationRead = Field(description="The category and the classifier's confidence.")
    severity: Severity = Field(description="How urgent the case is (set by the taxonomy's rules).")
    owner_team: str = Field(description="The team that owns the case (from its category).")
    similar_cases: list[SimilarCaseRead] = Field(
        description="Resolved cases like this one, most similar first."
    )
    predicted_resolution: PredictedResolutionRead | None = Field(
        description="The action the similar cases point to; null when the similar-case search was unavailable."
    )
    recommendations: list[RecommendationRead] = Field(description="Actions recommended for the case.")
    drafts: DraftsRead | None = Field(description="The drafted texts; null when the case has none.")
    gate: GateRead = Field(description="What the policy gate decided, and why.")
    versions: VersionsRead = Field(description="The versions that decided the case.")
    degraded: list[str] = Field(
        description="Parts that failed during triage (e.g. llm, retrieval); empty when none. Nothing is "
        "auto-approved while one is listed."
    )
    review_due_at: datetime | None = Field(
        default=None,
        description="When the review is due (the policy's SLA); null when nothing waits for review.",
    )
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

    outcome: Literal["resolved", "partially_resolved", "customer_cancelled", "escalated"] = Field(
        description="How the case ended."
    )
    resolution_action: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[a-z][a-z0-9_]*$",
        description="The action that resolved the case (snake_case), e.g. expedite_shipment.",
    )
    resolution: FreeText = Field(
        min_length=1,
        max_length=4000,
        description="How the case was resolved, in words (feeds similar cases).",
    )
    hours_to_resolve: float | None = Field(
        default=None,
        ge=0,
        le=24 * 365,
        description="Hours from the exception to the resolution; null if unknown.",
    )


__all__ = ["CaseStatus", "ExceptionEvent", "GateDecision", "ItemStatus", "Severity", "TriageCase"]
