"""What the triage flow hands to persistence: the response plus the evidence the audit log must keep."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from triage.core.actors import Actor
from triage.core.events import ExceptionEvent
from triage.core.vocabulary import ItemKind, ItemStatus
from triage.domain.cases.schemas import TriageCase


@dataclass(frozen=True)
class ItemRecord:
    """One reviewable item: a recommended action or a draft, with the gate's decision on it."""

    item_id: str
    kind: ItemKind
    key: str
    """``recommendation:<action>``, ``draft:summary`` or ``draft:customer_update``."""
    action: str | None
    text: str | None
    generator: str | None
    risk: str
    status: ItemStatus
    """The gate's word, before any human: auto_approved | pending_review | blocked | shadow."""
    requires_role: str | None
    requires_team: str | None
    four_eyes: bool
    findings: list[dict[str, Any]] = field(default_factory=list)
    reasons: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class TriageRecord:
    """Everything one triage call produced, handed to ``CaseService.create`` in one piece."""

    case: TriageCase
    event: ExceptionEvent
    body_hash: str
    """SHA-256 of the canonical event body: same event_id with another body is a conflict."""
    input_hash: str
    """SHA-256 of the text the models read."""
    items: list[ItemRecord]
    neighbour_ids: list[str]
    threshold: float
    actor: Actor
    order_value: Decimal
    team: str
    review_due_at: datetime | None
    escalation_role: str | None
    llm_error: str | None = None
