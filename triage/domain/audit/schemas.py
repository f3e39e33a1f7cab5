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
    failure: Literal["tampered", "wrong_key"] | None = Field(
        default=None,
        description="wrong_key: the records match the Ed25519-signed anchors but not the configured HMAC key.",
    )


class AnchorRead(BaseModel):
    """A legacy anchor: the chain head signed with the HMAC key (anchors are now :class:`SignedTreeHead`)."""

    seq: int
    hash: str
    at: datetime
    signature: str


class SignedTreeHead(BaseModel):
    """The Merkle tree over records ``1..tree_size``, signed with Ed25519: what anchors and exports carry."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tree_size: int = Field(ge=0)
    root: str = Field(description="RFC 6962 root (hex) of the records' leaves in sequence order.")
    chain_head: str = Field(description="The hash of record ``tree_size`` (the hash chain's head).")
    at: datetime = Field(description="When the head was signed.")
    key_id: str = Field(description="The signing key: the first 16 hex digits of SHA-256 of its raw bytes.")
    signature: str = Field(description="Ed25519 signature (base64) of the head's canonical JSON.")


class PublicKeyRead(BaseModel):
    """One audit signing key's public half and the time range in which it signs tree heads."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key_id: str
    algorithm: Literal["ed25519"] = "ed25519"
    public_key_pem: str
    valid_from: datetime
    valid_until: datetime | None = Field(default=None, description="Null while the key is in use.")

    def valid_at(self, at: datetime) -> bool:
        return self.valid_from <= at and (self.valid_until is None or at < self.valid_until)


class AuditPublicKeysRead(BaseModel):
    """Every public key that ever signed an audit tree head, the current one first named."""

    current_key_id: str | None
    keys: list[PublicKeyRead]


class ExportSelection(BaseModel):
    """Which records an export claims to hold, signed together with the tree head it is proven against."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    filter: dict[str, str] = Field(description="The filter applied (empty for the whole log).")
    complete: bool = Field(description="True when the export holds every record 1..tree_size.")
    count: int = Field(ge=0)
    seqs: list[int] | None = Field(description="The sequence numbers held, in order (null when complete).")
    signature: str


class ExportHeader(BaseModel):
    """The first line of an export (JSONL), or the ``export_header`` cell of its first row (CSV)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["header"] = "header"
    format: Literal["triage-audit-export/1"] = "triage-audit-export/1"
    tree_head: SignedTreeHead
    public_key: PublicKeyRead
    selection: ExportSelection


ExportFormat = Literal["jsonl", "csv"]
ExportFailure = Literal["malformed", "wrong_key", "bad_signature", "tampered", "truncated"]


class ExportVerifyRead(BaseModel):
    """The outcome of verifying an export offline, with public keys only."""

    ok: bool
    format: ExportFormat | None
    checked: int = Field(description="Records whose content, position and inclusion proof were checked.")
    expected: int = Field(description="Records the signed selection says the export holds.")
    tree_size: int | None
    key_id: str | None
    key_source: Literal["given", "embedded"] = Field(
        description="Whether the head was checked against keys given by the verifier or the export's own key."
    )
    complete: bool | None
    failure: ExportFailure | None
    first_bad_seq: int | None = Field(
        description="The first record that is missing, altered or out of place."
    )
    problem: str | None
