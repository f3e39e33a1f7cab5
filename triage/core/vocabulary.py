"""The service's fixed vocabulary: one enum per word family, used by every layer and listed in the schema.

Words that are data (labels, owner teams, actions) live in ``guardrails/taxonomy.yaml`` and are validated
against it; the words here are the ones the code itself branches on.
"""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    """How urgent a case is (taxonomy rules decide it; policy SLAs are set per severity)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class GateDecision(StrEnum):
    """The gate's verdict on a whole case, before any human."""

    AUTO_APPROVED = "auto_approved"
    NEEDS_REVIEW = "needs_review"
    BLOCKED = "blocked"


class GateMode(StrEnum):
    """How far the policy lets the gate act on a category."""

    OFF = "off"
    SHADOW = "shadow"
    RECOMMEND = "recommend"
    AUTO = "auto"


class ItemKind(StrEnum):
    """What a reviewable item is."""

    RECOMMENDATION = "recommendation"
    DRAFT = "draft"


class ItemStatus(StrEnum):
    """Lifecycle of one recommendation or draft: the gate's word first, then a human's."""

    AUTO_APPROVED = "auto_approved"
    PENDING_REVIEW = "pending_review"
    BLOCKED = "blocked"
    SHADOW = "shadow"
    APPROVED = "approved"
    EDITED = "edited"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"
    """Left open when the case was re-labelled: the new category's items replace it."""


class CaseStatus(StrEnum):
    """Where a case stands as a whole.

    From triage: ``auto_approved``, ``pending_review``, ``blocked``, ``shadow`` (the policy only observes) or
    ``not_triaged`` (the policy is off for the category). ``pending_review`` becomes ``reviewed`` once no item
    waits for a human; any status becomes ``resolved`` when the workflow records the final outcome.
    """

    AUTO_APPROVED = "auto_approved"
    PENDING_REVIEW = "pending_review"
    BLOCKED = "blocked"
    SHADOW = "shadow"
    NOT_TRIAGED = "not_triaged"
    REVIEWED = "reviewed"
    RESOLVED = "resolved"


class Decision(StrEnum):
    """What a reviewer does with one item."""

    APPROVE = "approve"
    REJECT = "reject"
    EDIT_AND_APPROVE = "edit_and_approve"


def case_status_after_gate(mode: GateMode | str, decision: GateDecision | str) -> CaseStatus:
    """The case's status straight after triage, from the policy mode and the gate's decision."""
    if mode == GateMode.SHADOW:
        return CaseStatus.SHADOW
    if mode == GateMode.OFF:
        return CaseStatus.NOT_TRIAGED
    return {
        GateDecision.AUTO_APPROVED: CaseStatus.AUTO_APPROVED,
        GateDecision.NEEDS_REVIEW: CaseStatus.PENDING_REVIEW,
        GateDecision.BLOCKED: CaseStatus.BLOCKED,
    }[GateDecision(decision)]
