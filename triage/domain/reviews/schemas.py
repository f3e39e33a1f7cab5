"""Schemas of the review domain: the queue, a decision request and what a decision produced."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from triage.core.text import FreeText, SingleLine
from triage.core.vocabulary import Decision
from triage.domain.cases.schemas import FindingRead


class DecisionCreate(BaseModel):
    """Body of ``POST /v1/cases/{case_id}/decisions``: one decision on one item, at the version the
    reviewer saw (a stale version is a conflict, so two reviewers cannot both decide one item)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    item_id: SingleLine = Field(
        min_length=1, max_length=64, description="The item decided: a recommendation's or a draft's item id."
    )
    expected_version: int = Field(ge=1, description="The item version shown in the queue or the case.")
    decision: Decision = Field(description="What the reviewer does with the item.")
    reason: FreeText | None = Field(
        default=None, max_length=2000, description="Required to reject and to override the label."
    )
    edited_text: FreeText | None = Field(
        default=None, min_length=1, max_length=8000, description="Required for edit_and_approve (drafts)."
    )
    label: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=r"^[a-z][a-z0-9_]*$",
        description="The reviewer's label when it differs from the model's (an override needs a reason).",
    )
    acknowledge_findings: bool = Field(
        default=False,
        description="Approve an edit although the fact-check found problems in it (recorded with the findings).",
    )

    @model_validator(mode="after")
    def _edit_has_text(self) -> DecisionCreate:
        if self.decision == Decision.EDIT_AND_APPROVE and self.edited_text is None:
            raise ValueError("edit_and_approve needs edited_text")
        if self.decision != Decision.EDIT_AND_APPROVE and self.edited_text is not None:
            raise ValueError("edited_text is only accepted with edit_and_approve")
        return self


class ReviewItemRead(BaseModel):
    """One item waiting for a human, with what the reviewer needs to decide it."""

    case_id: str = Field(description="The case the item belongs to.")
    item_id: str = Field(description="The item's id (decide it by this id).")
    version: int = Field(description="The item's version: send it as expected_version when deciding.")
    kind: str = Field(description="recommendation | draft.")
    key: str = Field(
        description="What the item is within its case, e.g. recommendation:credit_hold or draft:summary."
    )
    action: str | None = Field(description="The recommended action; null for drafts.")
    text: str | None = Field(description="The drafted text as generated; null for recommendations.")
    edited_text: str | None = Field(description="The text after an edit_and_approve; null until edited.")
    edited_by: str | None = Field(description="Who edited the text; null until edited.")
    generator: str | None = Field(
        description="What wrote the draft: llm | template | template-fallback; null for recommendations."
    )
    risk: str = Field(description="low | medium | high, as the policy rates the item.")
    status: str = Field(description="The item's status (see ItemStatus).")
    requires_role: str | None = Field(description="The role that must approve it; null when auto-approved.")
    requires_team: str | None = Field(
        description="The team that must approve it (set by a monetary limit); null when none is required."
    )
    four_eyes: bool = Field(description="True when the approver must differ from whoever edited the item.")
    awaiting_second_approval: bool = Field(
        description="True when the item was edited and now waits for a second person's approval."
    )
    findings: list[dict[str, Any]] = Field(
        description="What the fact-check found in the draft (each like FindingRead); empty when nothing."
    )
    reasons: list[dict[str, Any]] = Field(
        description="The policy gate's reasons for the item's status: each {rule, detail}."
    )
    label: str = Field(description="The case's category.")
    confidence: float = Field(description="The classifier's confidence in the category, 0 to 1.")
    severity: str = Field(description="The case's severity: low | medium | high | critical.")
    team: str = Field(description="The team that owns the case.")
    site: str = Field(description="The site of the case's order.")
    customer_tier: str = Field(description="The customer's tier: strategic | key | standard | basic.")
    order_id: str = Field(description="The order the case is about.")
    customer_id: str = Field(description="The customer of that order.")
    review_due_at: datetime | None = Field(
        description="When the review is due (the policy's SLA); null when no SLA."
    )
    overdue: bool = Field(description="True when review_due_at has passed.")
    escalated_at: datetime | None = Field(
        description="When the item was escalated for being overdue; null if not."
    )
    escalated_to: str | None = Field(description="The role it was escalated to; null if not escalated.")
    claimed_by: str | None = Field(default=None, description="Who works the item now (until claimed_until).")
    claimed_until: datetime | None = Field(
        default=None, description="When the claim runs out; null when nobody holds the item."
    )


class QueueCounts(BaseModel):
    """How many items match the queue's filters."""

    total: int = Field(description="Items matching the filters.")
    overdue: int = Field(description="Of those, past their review SLA.")


class ReviewQueueRead(BaseModel):
    """One page of the review queue, most urgent first."""

    items: list[ReviewItemRead] = Field(
        description="Items on this page: SLA due first, then severity, then customer tier."
    )
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
    counts: QueueCounts = Field(description="Counts over every page, not just this one.")


class ClaimAssign(BaseModel):
    """Body of ``POST /v1/reviews/{item_id}/assign``."""

    model_config = ConfigDict(extra="forbid")

    to: SingleLine = Field(min_length=1, max_length=128, description="The reviewer (API key subject).")


class DecisionRead(BaseModel):
    """The outcome of a decision: the item's new status and version."""

    case_id: str = Field(description="The item's case.")
    item_id: str = Field(description="The item decided.")
    decision: Decision = Field(description="The decision taken.")
    status: str = Field(description="The item's status after the decision (see ItemStatus).")
    version: int = Field(description="The item's new version.")
    awaiting_second_approval: bool = Field(
        description="True when the edit must still be approved by a second person (four eyes)."
    )
    reason: str | None = Field(description="The reason given; null when none.")
    label_override: str | None = Field(
        description="The reviewer's label when it overrides the model's; null otherwise."
    )
    decided_by: str = Field(description="Who decided (the API key's subject).")
    decided_at: datetime = Field(description="When.")
    case_status: str = Field(description="The case's status after the decision (see CaseStatus).")


class EditCheck(BaseModel):
    """Body of ``POST /v1/cases/{case_id}/items/{item_id}/check``: a text to fact-check as the draft."""

    model_config = ConfigDict(extra="forbid")

    text: FreeText = Field(min_length=1, max_length=8000, description="The text to fact-check.")


class EditCheckRead(BaseModel):
    """What the fact-check found in a text."""

    findings: list[FindingRead] = Field(description="Empty when the text states only the case's facts.")
