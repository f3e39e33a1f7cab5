"""What an audit record's hash covers, and its Merkle leaf: shared by the writer and every verifier."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from triage.core.hashing import canonical_json, sha256_json
from triage.domain.audit.merkle import leaf_hash

PAYLOAD_FIELDS = (
    "seq",
    "at",
    "actor_subject",
    "actor_role",
    "action",
    "case_id",
    "item_id",
    "order_id",
    "outcome",
    "reason",
    "before",
    "after",
    "input_hash",
    "model_version",
    "prompt_version",
    "policy_version",
    "neighbour_ids",
    "confidence",
    "threshold",
    "details",
    "prev_hash",
)
EXPORT_FIELDS = (*PAYLOAD_FIELDS, "hash", "signature")
JSON_FIELDS = frozenset({"before", "after", "neighbour_ids", "details"})
FLOAT_FIELDS = frozenset({"confidence", "threshold"})


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def plain_json(value: Any) -> Any:
    """The value exactly as it will read back from a JSON column (tuples become lists, keys strings ...)."""
    return None if value is None else json.loads(canonical_json(value))


def record_payload(record: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical content a record's hash covers; ``at`` as a UTC ISO string with microseconds."""
    payload = {name: record.get(name) for name in PAYLOAD_FIELDS}
    at = payload["at"]
    if isinstance(at, datetime):
        payload["at"] = format_time(at)
    return payload


def record_hash(record: Mapping[str, Any]) -> str:
    return sha256_json(record_payload(record))


def record_leaf(hash_hex: str) -> bytes:
    """The Merkle leaf hash of a record: SHA-256(0x00 || the 32 bytes of its ``hash``).

    The record hash already commits to every field (``prev_hash`` included), so the tree can be built from the
    ``hash`` column alone, without reading the records' JSON.
    """
    return leaf_hash(bytes.fromhex(hash_hex))
