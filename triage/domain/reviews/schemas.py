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

    item_id: SingleLine = Field(min_length=1, max_length=64)
    expected_version: int = Field(ge=1, description="The item version shown in the queue or the case.")
    decision: Decision
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

    case_id: str
    item_id: str
    version: int
    kind: str
    key: str
    action: str | None
    text: str | None
    edited_text: str | None
    edited_by: str | None
    generator: str | None
    risk: str
    status: str
    requires_role: str | None
    requires_team: str | None
    four_eyes: bool
    awaiting_second_approval: bool
    findings: list[dict[str, Any]]
    reasons: list[dict[str, Any]]
    label: str
    confidence: float
    severity: str
    team: str
    site: str
    customer_tier: str
    order_id: str
    customer_id: str
    review_due_at: datetime | None
    overdue: bool
    escalated_at: datetime | None
    escalated_to: str | None
    claimed_by: str | None = Field(default=None, description="Who works the item now (until claimed_until).")
    claimed_until: datetime | None = None


class QueueCounts(BaseModel):
    total: int = Field(description="Items matching the filters.")
    overdue: int = Field(description="Of those, past their review SLA.")


class ReviewQueueRead(BaseModel):
    items: list[ReviewItemRead]
    next_cursor: str | None
    counts: QueueCounts


class ClaimAssign(BaseModel):
    """Body of ``POST /v1/reviews/{item_id}/assign``."""

    model_config = ConfigDict(extra="forbid")

    to: SingleLine = Field(min_length=1, max_length=128, description="The reviewer (API key subject).")


class DecisionRead(BaseModel):
    """The outcome of a decision: the item's new status and version."""

    case_id: str
    item_id: str
    decision: Decision
    status: str
    version: int
    awaiting_second_approval: bool
    reason: str | None
    label_override: str | None
    decided_by: str
    decided_at: datetime
    case_status: str


class EditCheck(BaseModel):
    """Body of ``POST /v1/cases/{case_id}/items/{item_id}/check``: a text to fact-check as the draft."""

    model_config = ConfigDict(extra="forbid")

    text: FreeText = Field(min_length=1, max_length=8000)


class EditCheckRead(BaseModel):
    findings: list[FindingRead] = Field(description="Empty when the text states only the case's facts.")
