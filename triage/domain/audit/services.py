"""``AuditService``: the only code that writes audit records, and the code that proves none was altered.

Each record's ``hash`` is SHA-256 over the canonical JSON of all its fields including ``prev_hash``; its
``signature`` is an HMAC of that hash with the signing key, so recomputing hashes after an edit does not help
without the key. The head row (last seq and hash) is signed too and is advanced in the same transaction as
every append; anchors (signed copies of the head in files) catch a table rolled back to an older state.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from triage.config import Settings
from triage.core.actors import Actor
from triage.core.clock import utc_now
from triage.core.errors import InvalidInput, UpstreamUnavailable
from triage.core.hashing import canonical_json, sha256_json
from triage.core.paging import clamp_limit, decode_cursor, encode_cursor
from triage.db.engine import read_snapshot, unit_of_work
from triage.db.tables import AuditLogRow
from triage.domain.audit.anchors import AnchorStore
from triage.domain.audit.repositories import AuditRepository
from triage.domain.audit.schemas import (
    GENESIS_HASH,
    AnchorRead,
    AuditEntryCreate,
    AuditFilters,
    AuditPageRead,
    AuditRecordRead,
    ExportFormat,
    VerifyRead,
)

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
MAX_PAGE = 500
"""Audit pages may be longer than the other listings (compliance reads the log in bulk)."""


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _plain_json(value: Any) -> Any:
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


def _row_dict(row: AuditLogRow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in EXPORT_FIELDS}


class AuditSigner:
    """HMAC-SHA256 with the audit signing key; each message kind is domain-separated."""

    def __init__(self, key: SecretStr | str | bytes) -> None:
        raw = key.get_secret_value() if isinstance(key, SecretStr) else key
        self._key = raw.encode("utf-8") if isinstance(raw, str) else raw

    def _mac(self, *parts: str) -> str:
        return hmac.new(self._key, "\n".join(parts).encode("utf-8"), hashlib.sha256).hexdigest()

    def record(self, record_hash_: str) -> str:
        return self._mac("record", record_hash_)

    def head(self, seq: int, hash_: str, at: datetime) -> str:
        return self._mac("head", str(seq), hash_, format_time(at))

    def anchor(self, seq: int, hash_: str, at: datetime) -> str:
        return self._mac("anchor", str(seq), hash_, format_time(at))

    @staticmethod
    def same(a: str | None, b: str) -> bool:
        return a is not None and hmac.compare_digest(a, b)


class ChainVerifier:
    """Checks records one at a time, in sequence order; remembers the first problem.

    Works on database rows and on exported JSONL alike, so an export can be re-verified offline.
    """

    def __init__(self, signer: AuditSigner, watch: Iterable[int] = ()) -> None:
        self.signer = signer
        self.expected_seq = 1
        self.prev_hash = GENESIS_HASH
        self.checked = 0
        self.first_bad_seq: int | None = None
        self.problem: str | None = None
        self.watched: dict[int, str] = dict.fromkeys(watch, "")

    @property
    def ok(self) -> bool:
        return self.first_bad_seq is None

    @property
    def last_seq(self) -> int:
        return self.expected_seq - 1

    def fail(self, seq: int, problem: str) -> None:
        if self.first_bad_seq is None or seq < self.first_bad_seq:
            self.first_bad_seq, self.problem = seq, problem

    def feed(self, record: Mapping[str, Any]) -> bool:
        """Check one record; ``False`` once the chain is broken (later records prove nothing more)."""
        seq = int(record["seq"])
        if seq != self.expected_seq:
            self.fail(self.expected_seq, f"record {self.expected_seq} is missing (next present is {seq})")
            return False
        stored_hash = str(record["hash"])
        if record_hash(record) != stored_hash:
            self.fail(seq, f"record {seq} was altered: its content does not match its hash")
            return False
        if record["prev_hash"] != self.prev_hash:
            self.fail(seq, f"record {seq} does not link to record {seq - 1} (reordered or rewritten)")
            return False
        if not self.signer.same(record.get("signature"), self.signer.record(stored_hash)):
            self.fail(seq, f"record {seq} has an invalid signature (rewritten with recomputed hashes)")
            return False
        if seq in self.watched:
            self.watched[seq] = stored_hash
        self.prev_hash = stored_hash
        self.expected_seq += 1
        self.checked += 1
        return True


class AuditService:
    """The single writer of the audit log, and its verifier, exporter and anchorer."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        signing_key: Settings | SecretStr | str | bytes,
        anchors: AnchorStore | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        """``signing_key`` may be the settings: their key is used and anchors go to ``audit_anchor_dir``."""
        if isinstance(signing_key, Settings):
            anchors = anchors or AnchorStore(signing_key.audit_anchor_dir)
            signing_key = signing_key.audit_signing_key
        self.sessions = sessions
        self.signer = AuditSigner(signing_key)
        self.anchors = anchors
        self.clock = clock
        self.repository = AuditRepository()

    def append(self, session: Session, entries: Sequence[AuditEntryCreate]) -> list[AuditRecordRead]:
        """Append ``entries`` inside the caller's transaction, so they commit or roll back with the change.

        Raises ``UpstreamUnavailable`` when the write fails: the caller's action must then fail too.
        """
        if not entries:
            return []
        try:
            head = self.repository.lock_head(session)
            seq, prev_hash = head.seq, head.hash
            at = self.clock()
            rows: list[AuditLogRow] = []
            for entry in entries:
                seq += 1
                values = self._values(entry, seq=seq, at=at, prev_hash=prev_hash)
                values["hash"] = record_hash(values)
                values["signature"] = self.signer.record(values["hash"])
                rows.append(AuditLogRow(**values))
                prev_hash = values["hash"]
            self.repository.insert(session, rows)
            head.seq, head.hash, head.at = seq, prev_hash, at
            head.signature = self.signer.head(seq, prev_hash, at)
            session.flush()
        except SQLAlchemyError as exc:
            raise UpstreamUnavailable("the audit log could not be written; the action was not taken") from exc
        return [AuditRecordRead.model_validate(_row_dict(row)) for row in rows]

    def append_now(self, entries: Sequence[AuditEntryCreate]) -> list[AuditRecordRead]:
        """Append in a transaction of its own (refusals, denials, reloads: events with no other change)."""
        with unit_of_work(self.sessions) as session:
            return self.append(session, entries)

    def record_event(self, actor: Actor, action: str, **fields: Any) -> AuditRecordRead:
        """Audit one event that changes nothing else (``policy.reloaded`` ...) in its own transaction.

        ``fields`` are those of ``AuditEntryCreate`` (``outcome``, ``reason``, ``details`` ...)."""
        return self.append_now([AuditEntryCreate(action=action, actor=actor, **fields)])[0]

    def record_denial(self, actor: Actor, route: str, reason: str) -> None:
        """Audit a refused request (authentication or authorisation) in its own transaction."""
        self.record_event(actor, "access.denied", outcome="denied", reason=reason, details={"route": route})

    @staticmethod
    def _values(entry: AuditEntryCreate, *, seq: int, at: datetime, prev_hash: str) -> dict[str, Any]:
        return {
            "seq": seq,
            "at": at,
            "actor_subject": entry.actor.subject,
            "actor_role": entry.actor.role_name,
            "action": entry.action,
            "case_id": entry.case_id,
            "item_id": entry.item_id,
            "order_id": entry.order_id,
            "outcome": entry.outcome,
            "reason": entry.reason,
            "before": _plain_json(entry.before),
            "after": _plain_json(entry.after),
            "input_hash": entry.input_hash,
            "model_version": entry.model_version,
            "prompt_version": entry.prompt_version,
            "policy_version": entry.policy_version,
            "neighbour_ids": _plain_json(entry.neighbour_ids),
            "confidence": None if entry.confidence is None else float(entry.confidence),
            "threshold": None if entry.threshold is None else float(entry.threshold),
            "details": _plain_json(entry.details),
            "prev_hash": prev_hash,
        }

    def query(self, filters: AuditFilters, *, cursor: str | None = None, limit: int = 100) -> AuditPageRead:
        """Records matching ``filters`` in sequence order; ``cursor`` is the last seq of the previous page."""
        after = decode_cursor(cursor, int)[0] if cursor else 0
        limit = clamp_limit(limit, MAX_PAGE)
        with read_snapshot(self.sessions) as session:
            rows = self.repository.page(session, filters, after=after, limit=limit + 1)
            items = [AuditRecordRead.model_validate(_row_dict(row)) for row in rows[:limit]]
        next_cursor = encode_cursor(items[-1].seq) if len(rows) > limit else None
        return AuditPageRead(items=items, next_cursor=next_cursor)

    def verify(self) -> VerifyRead:
        """Check every record, the signed head and every anchor; name the first bad sequence number."""
        anchors = self.anchors.load() if self.anchors is not None else []
        valid_anchors = [anchor for _, anchor in anchors if anchor is not None]
        with read_snapshot(self.sessions) as session:
            head = self.repository.head(session)
            verifier = ChainVerifier(self.signer, watch={head.seq, *(a.seq for a in valid_anchors)})
            for row in self.repository.iter_all(session):
                if not verifier.feed(_row_dict(row)):
                    break
            head_seq, head_hash, head_at, head_signature = head.seq, head.hash, head.at, head.signature
        if verifier.ok:
            last = verifier.last_seq
            if head_seq == 0 and head_signature is None:
                if last > 0:
                    verifier.fail(1, "the chain head was reset to genesis while records exist")
            elif head_at is None or not self.signer.same(
                head_signature, self.signer.head(head_seq, head_hash, head_at)
            ):
                verifier.fail(min(head_seq, last + 1), "the chain head's signature is invalid")
            elif last < head_seq:
                verifier.fail(
                    last + 1, f"the log ends at {last} but the signed head is at {head_seq} (truncated)"
                )
            elif last > head_seq:
                verifier.fail(
                    head_seq + 1, f"records after the signed head {head_seq} (appended outside the service)"
                )
            elif verifier.watched.get(head_seq, head_hash) != head_hash:
                verifier.fail(head_seq, f"record {head_seq} does not match the signed head (chain rewritten)")
            for path, anchor in anchors:
                self._check_anchor(verifier, path.name, anchor)
        return VerifyRead(
            ok=verifier.ok,
            checked=verifier.checked,
            first_bad_seq=verifier.first_bad_seq,
            problem=verifier.problem,
            head_seq=head_seq,
            anchors_checked=len(anchors),
        )

    def _check_anchor(self, verifier: ChainVerifier, name: str, anchor: AnchorRead | None) -> None:
        last = verifier.last_seq
        if anchor is None:
            verifier.fail(last + 1, f"anchor {name} is unreadable")
        elif not self.signer.same(anchor.signature, self.signer.anchor(anchor.seq, anchor.hash, anchor.at)):
            verifier.fail(min(anchor.seq, last + 1), f"anchor {name} has an invalid signature")
        elif anchor.seq > last:
            verifier.fail(
                last + 1, f"the log ends at {last} but anchor {name} saw record {anchor.seq} (truncated)"
            )
        elif anchor.seq > 0 and verifier.watched.get(anchor.seq) != anchor.hash:
            verifier.fail(anchor.seq, f"record {anchor.seq} does not match anchor {name} (chain rewritten)")

    def anchor(self) -> AnchorRead | None:
        """Write the current signed head to the anchor directory, if it moved since the last anchor."""
        if self.anchors is None:
            return None
        with read_snapshot(self.sessions) as session:
            head = self.repository.head(session)
            seq, hash_, at, signature = head.seq, head.hash, head.at, head.signature
        if seq == 0 or at is None or not self.signer.same(signature, self.signer.head(seq, hash_, at)):
            return None
        latest = self.anchors.latest()
        if latest is not None and latest.seq >= seq:
            return None
        now = self.clock()
        anchor = AnchorRead(seq=seq, hash=hash_, at=now, signature=self.signer.anchor(seq, hash_, now))
        self.anchors.write(anchor)
        return anchor

    def export(self, fmt: ExportFormat = "jsonl", filters: AuditFilters | None = None) -> Iterator[str]:
        """The log as JSONL (one canonical record per line, re-verifiable) or CSV, streamed page by page:
        each item yielded is a chunk of whole lines."""
        if fmt not in ("jsonl", "csv"):
            raise InvalidInput(f"unknown export format {fmt!r}: use jsonl or csv")
        return self._export(fmt, filters or AuditFilters())

    def _export(self, fmt: ExportFormat, filters: AuditFilters) -> Iterator[str]:
        if fmt == "csv":
            yield _csv_line(EXPORT_FIELDS)
        after = 0
        while True:
            # A short transaction per page: a slow download never holds a lock or a snapshot for long.
            with read_snapshot(self.sessions) as session:
                rows = [
                    _row_dict(row)
                    for row in self.repository.page(session, filters, after=after, limit=MAX_PAGE)
                ]
            lines: list[str] = []
            for record in rows:
                record["at"] = format_time(record["at"])
                if fmt == "jsonl":
                    lines.append(canonical_json(record) + "\n")
                else:
                    lines.append(_csv_line([_csv_cell(record[name]) for name in EXPORT_FIELDS]))
            if lines:
                yield "".join(lines)
            if len(rows) < MAX_PAGE:
                return
            after = rows[-1]["seq"]


def verify_export(lines: Iterable[str], signer: AuditSigner) -> VerifyRead:
    """Re-verify a JSONL export offline: hashes, links and record signatures (not the live head)."""
    verifier = ChainVerifier(signer)
    for line in lines:
        if line.strip() and not verifier.feed(json.loads(line)):
            break
    return VerifyRead(
        ok=verifier.ok,
        checked=verifier.checked,
        first_bad_seq=verifier.first_bad_seq,
        problem=verifier.problem,
        head_seq=verifier.last_seq,
        anchors_checked=0,
    )


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return canonical_json(value)
    return str(value)


def _csv_line(values: Iterable[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()
