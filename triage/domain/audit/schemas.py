"""Schemas of the audit domain: what gets appended, what is read back, what verification finds."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from triage.core.actors import Actor

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class AuditEntryCreate:
    """One record to append. ``AuditService.append`` assigns its sequence number, time and hashes."""

    action: str
    """Dotted name: ``case.classified``, ``item.approved``, ``policy.reloaded`` ..."""
    actor: Actor
    case_id: str | None = None
    item_id: str | None = None
    order_id: str | None = None
    outcome: str | None = None
    reason: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    input_hash: str | None = None
    model_version: str | None = None
    prompt_version: str | None = None
    policy_version: str | None = None
    neighbour_ids: list[str] | None = None
    confidence: float | None = None
    threshold: float | None = None
    details: dict[str, Any] | None = field(default=None)


class AuditRecordRead(BaseModel):
    """One audit record as stored, with the hashes that chain it to its predecessor."""

    model_config = ConfigDict(frozen=True)

    seq: int
    at: datetime
    actor_subject: str
    actor_role: str
    action: str
    case_id: str | None
    item_id: str | None
    order_id: str | None
    outcome: str | None
    reason: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    input_hash: str | None
    model_version: str | None
    prompt_version: str | None
    policy_version: str | None
    neighbour_ids: list[str] | None
    confidence: float | None
    threshold: float | None
    details: dict[str, Any] | None
    prev_hash: str
    hash: str
    signature: str


class AuditPageRead(BaseModel):
    items: list[AuditRecordRead]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


@dataclass(frozen=True)
class AuditFilters:
    case_id: str | None = None
    order_id: str | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class VerifyRead(BaseModel):
    """The outcome of checking the whole chain against its hashes, signatures, signed head and anchors."""

    ok: bool
    checked: int = Field(description="Records whose hash, link and signature were checked.")
    first_bad_seq: int | None = Field(
        description="The first sequence number that is missing, altered or out of place."
    )
    problem: str | None
    head_seq: int
    anchors_checked: int


class AnchorRead(BaseModel):
    """A signed copy of the chain head kept outside the database."""

    seq: int
    hash: str
    at: datetime
    signature: str


ExportFormat = Literal["jsonl", "csv"]
