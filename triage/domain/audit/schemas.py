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

    seq: int = Field(description="The record's sequence number: 1, 2, 3 ... with no gaps.")
    at: datetime = Field(description="When the record was written (UTC).")
    actor_subject: str = Field(description="Who acted: the API key's subject, cli:<user>, or system.")
    actor_role: str = Field(description="Their role when acting, or system.")
    action: str = Field(
        description="What happened, dotted: case.classified, item.approved, policy.reloaded ..."
    )
    case_id: str | None = Field(description="The case concerned; null when none.")
    item_id: str | None = Field(description="The review item concerned; null when none.")
    order_id: str | None = Field(description="The order concerned; null when none.")
    outcome: str | None = Field(
        description="The result of the action (e.g. a status or an id); null when none."
    )
    reason: str | None = Field(description="The reason a person gave; null when none.")
    before: dict[str, Any] | None = Field(description="The changed fields before the action; null when none.")
    after: dict[str, Any] | None = Field(description="The changed fields after the action; null when none.")
    input_hash: str | None = Field(
        description="SHA-256 (hex) of the exception event that was triaged; null for other actions."
    )
    model_version: str | None = Field(description="The classifier's version that decided; null when none.")
    prompt_version: str | None = Field(description="The prompts' version that drafted; null when none.")
    policy_version: str | None = Field(description="The policy's version in force; null when none.")
    neighbour_ids: list[str] | None = Field(
        description="The similar cases the decision looked at; null when none."
    )
    confidence: float | None = Field(description="The classifier's confidence, 0 to 1; null when none.")
    threshold: float | None = Field(description="The policy threshold it was held against; null when none.")
    details: dict[str, Any] | None = Field(description="Further facts of the action; null when none.")
    prev_hash: str = Field(description="The previous record's hash (64 zeros for the first record).")
    hash: str = Field(description="SHA-256 (hex) of the record's canonical JSON, prev_hash included.")
    signature: str = Field(description="HMAC of the hash with the service's audit key.")


class AuditPageRead(BaseModel):
    """One page of audit records, in sequence order."""

    items: list[AuditRecordRead] = Field(description="The records on this page, lowest seq first.")
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

    ok: bool = Field(description="True when nothing was found wrong.")
    checked: int = Field(description="Records whose hash, link and signature were checked.")
    first_bad_seq: int | None = Field(
        description="The first sequence number that is missing, altered or out of place."
    )
    problem: str | None = Field(description="What is wrong, in plain words; null when ok.")
    head_seq: int = Field(description="The last sequence number the signed head records.")
    anchors_checked: int = Field(description="Anchors (signed tree heads kept outside the database) checked.")
    failure: Literal["tampered", "wrong_key"] | None = Field(
        default=None,
        description="wrong_key: the records match the Ed25519-signed anchors but not the configured HMAC key.",
    )


class AnchorRead(BaseModel):
    """A legacy anchor: the chain head signed with the HMAC key (anchors are now :class:`SignedTreeHead`)."""

    seq: int = Field(description="The chain head's sequence number.")
    hash: str = Field(description="The chain head's hash.")
    at: datetime = Field(description="When the anchor was written.")
    signature: str = Field(description="HMAC of the head with the service's audit key.")


class SignedTreeHead(BaseModel):
    """The Merkle tree over records ``1..tree_size``, signed with Ed25519: what anchors and exports carry."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tree_size: int = Field(ge=0, description="How many records the tree covers (records 1..tree_size).")
    root: str = Field(description="RFC 6962 root (hex) of the records' leaves in sequence order.")
    chain_head: str = Field(description="The hash of record ``tree_size`` (the hash chain's head).")
    at: datetime = Field(description="When the head was signed.")
    key_id: str = Field(description="The signing key: the first 16 hex digits of SHA-256 of its raw bytes.")
    signature: str = Field(description="Ed25519 signature (base64) of the head's canonical JSON.")


class PublicKeyRead(BaseModel):
    """One audit signing key's public half and the time range in which it signs tree heads."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key_id: str = Field(description="The key's id: the first 16 hex digits of SHA-256 of its raw bytes.")
    algorithm: Literal["ed25519"] = Field(default="ed25519", description="Always ed25519.")
    public_key_pem: str = Field(description="The public key, PEM-encoded.")
    valid_from: datetime = Field(description="From when the key signs tree heads.")
    valid_until: datetime | None = Field(default=None, description="Null while the key is in use.")

    def valid_at(self, at: datetime) -> bool:
        return self.valid_from <= at and (self.valid_until is None or at < self.valid_until)


class AuditPublicKeysRead(BaseModel):
    """Every public key that ever signed an audit tree head, the current one first named."""

    current_key_id: str | None = Field(description="The key that signs now; null when none is in use.")
    keys: list[PublicKeyRead] = Field(description="Every published key, oldest first.")


class ExportSelection(BaseModel):
    """Which records an export claims to hold, signed together with the tree head it is proven against."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    filter: dict[str, str] = Field(description="The filter applied (empty for the whole log).")
    complete: bool = Field(description="True when the export holds every record 1..tree_size.")
    count: int = Field(ge=0, description="How many records the export holds.")
    seqs: list[int] | None = Field(description="The sequence numbers held, in order (null when complete).")
    signature: str = Field(description="Ed25519 signature (base64) of the selection with its tree head.")


class ExportHeader(BaseModel):
    """The first line of an export (JSONL), or the ``export_header`` cell of its first row (CSV)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["header"] = Field(default="header", description="Always header.")
    format: Literal["triage-audit-export/1"] = Field(
        default="triage-audit-export/1", description="The export format and its version."
    )
    tree_head: SignedTreeHead = Field(description="The signed tree head the records are proven against.")
    public_key: PublicKeyRead = Field(description="The public key that signed the tree head.")
    selection: ExportSelection = Field(description="Which records the export holds, signed.")


ExportFormat = Literal["jsonl", "csv"]
ExportFailure = Literal["malformed", "wrong_key", "bad_signature", "tampered", "truncated"]


class ExportVerifyRead(BaseModel):
    """The outcome of verifying an export offline, with public keys only."""

    ok: bool = Field(description="True when the export is intact and signed by a trusted key.")
    format: ExportFormat | None = Field(description="jsonl | csv; null when it could not be told.")
    checked: int = Field(description="Records whose content, position and inclusion proof were checked.")
    expected: int = Field(description="Records the signed selection says the export holds.")
    tree_size: int | None = Field(description="The signed tree head's size; null when it could not be read.")
    key_id: str | None = Field(description="The key that signed the head; null when it could not be read.")
    key_source: Literal["given", "embedded"] = Field(
        description="Whether the head was checked against keys given by the verifier or the export's own key."
    )
    complete: bool | None = Field(
        description="Whether the export claims every record 1..tree_size; null when it could not be read."
    )
    failure: ExportFailure | None = Field(description="The kind of failure; null when ok.")
    first_bad_seq: int | None = Field(
        description="The first record that is missing, altered or out of place."
    )
    problem: str | None = Field(description="What is wrong, in plain words; null when ok.")
