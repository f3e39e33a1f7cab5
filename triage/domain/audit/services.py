"""``AuditService``: the only code that writes audit records, and the code that proves none was altered.

Each record's ``hash`` is SHA-256 over the canonical JSON of all its fields including ``prev_hash``; its
``signature`` is an HMAC of that hash with the service's secret key, so recomputing hashes after an edit does
not help without the key. The head row (last seq and hash) is HMAC-signed too and advances in the same
transaction as every append. What leaves the service is signed with Ed25519 instead, so that checking it
needs only the public key: the tree heads in anchors (files outside the database, which catch a table rolled
back to an older state) and in exports, whose every record carries its Merkle inclusion proof.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from triage.config import Settings
from triage.core.actors import Actor
from triage.core.clock import utc_now
from triage.core.errors import InvalidInput, UpstreamUnavailable
from triage.core.paging import clamp_limit, decode_cursor, encode_cursor
from triage.db.engine import read_snapshot, unit_of_work
from triage.db.tables import AuditLogRow
from triage.domain.audit import export_format
from triage.domain.audit.anchors import AnchorStore, anchor_size
from triage.domain.audit.denials import DenialAggregator
from triage.domain.audit.heads import VerifiedTree, sign_tree_head, verified_tree
from triage.domain.audit.keyring import AuditKeyring
from triage.domain.audit.merkle import ProofBuilder
from triage.domain.audit.records import EXPORT_FIELDS, format_time, plain_json, record_hash
from triage.domain.audit.repositories import AuditRepository
from triage.domain.audit.schemas import (
    AuditEntryCreate,
    AuditFilters,
    AuditPageRead,
    AuditPublicKeysRead,
    AuditRecordRead,
    ExportFormat,
    ExportHeader,
    ExportSelection,
    PublicKeyRead,
    SignedTreeHead,
    VerifyRead,
)
from triage.domain.audit.signing import AuditSigner, key_id_of, selection_message, sign
from triage.domain.audit.verification import ChainVerifier, HeadState, finish

AUDIT_MAX_PAGE = 500
"""Audit pages may be longer than the other listings (compliance reads the log in bulk)."""
DEFAULT_DENIAL_INTERVAL_S = 60.0


def _row_dict(row: AuditLogRow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in EXPORT_FIELDS}


class AuditService:
    """The single writer of the audit log, and its verifier, exporter and anchorer."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        signing_key: Settings | SecretStr | str | bytes,
        anchors: AnchorStore | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
        keyring: AuditKeyring | None = None,
        anchor_retention: timedelta | None = None,
        denial_interval_s: float = DEFAULT_DENIAL_INTERVAL_S,
    ) -> None:
        """``signing_key`` is the HMAC key, or the settings: then their HMAC key, Ed25519 keyring, anchor
        directory, anchor retention and denial interval are used. Without a ``keyring`` the Ed25519 key lives
        in memory (tools and tests that only append)."""
        if isinstance(signing_key, Settings):
            settings = signing_key
            anchors = anchors or AnchorStore(settings.audit_anchor_dir)
            keyring = keyring or AuditKeyring.from_settings(settings, clock=clock)
            anchor_retention = anchor_retention or timedelta(days=settings.audit_anchor_retention_days)
            denial_interval_s = settings.audit_denial_interval_s
            signing_key = settings.audit_signing_key
        self.sessions = sessions
        self.signer = AuditSigner(signing_key)
        self.anchors = anchors
        self.clock = clock
        self.keyring = keyring or AuditKeyring(clock=clock)
        self.anchor_retention = anchor_retention
        self.repository = AuditRepository()
        self.denials = DenialAggregator(denial_interval_s)
        self._denials_lock = threading.Lock()

    def append(self, session: Session, entries: Sequence[AuditEntryCreate]) -> list[AuditRecordRead]:
        """Append ``entries`` inside the caller's transaction, so they commit or roll back with the change.

        Raises ``UpstreamUnavailable`` when the write fails: the caller's action must then fail too.
        """
        if not entries:
            return []
        try:
            seq, prev_hash = self.repository.lock_head(session)
            at = self.clock()
            rows: list[dict[str, Any]] = []
            for entry in entries:
                seq += 1
                values = self._values(entry, seq=seq, at=at, prev_hash=prev_hash)
                values["hash"] = record_hash(values)
                values["signature"] = self.signer.record(values["hash"])
                rows.append(values)
                prev_hash = values["hash"]
            self.repository.insert(session, rows)
            signature = self.signer.head(seq, prev_hash, at)
            self.repository.advance_head(session, seq=seq, hash_=prev_hash, at=at, signature=signature)
        except SQLAlchemyError as exc:
            raise UpstreamUnavailable("the audit log could not be written; the action was not taken") from exc
        return [AuditRecordRead.model_validate(row) for row in rows]

    def append_now(self, entries: Sequence[AuditEntryCreate]) -> list[AuditRecordRead]:
        """Append in a transaction of its own (refusals, denials, reloads: events with no other change)."""
        if not entries:
            return []
        with unit_of_work(self.sessions) as session:
            return self.append(session, entries)

    def record_event(self, actor: Actor, action: str, **fields: Any) -> AuditRecordRead:
        """Audit one event that changes nothing else (``policy.reloaded`` ...) in its own transaction.

        ``fields`` are those of ``AuditEntryCreate`` (``outcome``, ``reason``, ``details`` ...)."""
        return self.append_now([AuditEntryCreate(action=action, actor=actor, **fields)])[0]

    def record_denial(self, actor: Actor, route: str, reason: str) -> None:
        """Audit a refused request (authentication or authorisation), aggregated per (key or subject, role,
        reason) and interval: the first refusal of a burst is recorded at once, the rest as one record with
        a ``count`` per interval (see :mod:`triage.domain.audit.denials`). A failed write raises, so the
        request fails, and leaves the counts as they were."""
        with self._denials_lock:
            saved = self.denials.save()
            try:
                self.append_now(self.denials.observe(actor, route, reason, self.clock()))
            except BaseException:
                self.denials.restore(saved)
                raise

    def flush_denials(self, *, everything: bool = False) -> int:
        """Record the counts of the denial intervals that have ended (all, with ``everything``: at shutdown);
        the number of records written. Run it periodically so a burst's count is not left waiting for the
        next refusal."""
        with self._denials_lock:
            saved = self.denials.save()
            try:
                return len(self.append_now(self.denials.flush(self.clock(), everything=everything)))
            except BaseException:
                self.denials.restore(saved)
                raise

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
            "before": plain_json(entry.before),
            "after": plain_json(entry.after),
            "input_hash": entry.input_hash,
            "model_version": entry.model_version,
            "prompt_version": entry.prompt_version,
            "policy_version": entry.policy_version,
            "neighbour_ids": plain_json(entry.neighbour_ids),
            "confidence": None if entry.confidence is None else float(entry.confidence),
            "threshold": None if entry.threshold is None else float(entry.threshold),
            "details": plain_json(entry.details),
            "prev_hash": prev_hash,
        }

    def query(self, filters: AuditFilters, *, cursor: str | None = None, limit: int = 100) -> AuditPageRead:
        """Records matching ``filters`` in sequence order; ``cursor`` is the last seq of the previous page."""
        after = decode_cursor(cursor, int)[0] if cursor else 0
        limit = clamp_limit(limit, AUDIT_MAX_PAGE)
        with read_snapshot(self.sessions) as session:
            rows = self.repository.page(session, filters, after=after, limit=limit + 1)
            items = [AuditRecordRead.model_validate(_row_dict(row)) for row in rows[:limit]]
        next_cursor = encode_cursor(items[-1].seq) if len(rows) > limit else None
        return AuditPageRead(items=items, next_cursor=next_cursor)

    def verify(self) -> VerifyRead:
        """Check every record, the signed head and every anchor; name the first bad sequence number."""
        anchors = self.anchors.load() if self.anchors is not None else []
        watch = {anchor_size(anchor) for _, anchor in anchors if anchor is not None}
        keys = self.keyring.public_keys()
        with read_snapshot(self.sessions) as session:
            row = self.repository.head(session)
            head = HeadState(row.seq, row.hash, row.at, row.signature)
            verifier = ChainVerifier(self.signer, watch={head.seq, *watch})
            for record in self.repository.iter_all(session):
                if not verifier.feed(_row_dict(record)):
                    break
        finish(verifier, head, [(path.name, anchor) for path, anchor in anchors], keys)
        return verifier.result(head.seq, len(anchors))

    def anchor(self) -> SignedTreeHead | None:
        """Write the current tree head, signed, to the anchor directory if the log grew since the last
        anchor; then prune the anchors older than the retention. ``Conflict`` when the log fails its check
        (nothing is signed over a damaged log)."""
        if self.anchors is None:
            return None
        latest = self.anchors.latest()
        with read_snapshot(self.sessions) as session:
            size = self.repository.head(session).seq
            grown = size > 0 and (latest is None or anchor_size(latest) < size)
            verified = verified_tree(session, self.repository, self.signer, latest) if grown else None
        head = sign_tree_head(self.keyring, verified, self.clock)[0] if verified else None
        if head is not None:
            self.anchors.write(head)
        if self.anchor_retention is not None:
            self.anchors.prune(self.clock() - self.anchor_retention)
        return head

    def public_keys(self) -> AuditPublicKeysRead:
        """Every Ed25519 public key that signs or signed tree heads, with its validity."""
        return self.keyring.published_keys()

    def rotate_signing_key(
        self, actor: Actor, new_key: Ed25519PrivateKey | None = None
    ) -> tuple[PublicKeyRead, PublicKeyRead]:
        """Retire the Ed25519 key now and sign with ``new_key`` (fresh by default); audited before it takes
        effect. The retired key stays published with its validity, so the heads it signed still verify."""
        current, _ = self.keyring.signing_key()
        new_key = new_key or Ed25519PrivateKey.generate()
        details = {"retired_key_id": current.key_id, "new_key_id": key_id_of(new_key.public_key())}
        self.record_event(actor, "audit.key_rotated", outcome="ok", details=details)
        return self.keyring.rotate(new_key)

    def export(self, fmt: ExportFormat = "jsonl", filters: AuditFilters | None = None) -> Iterator[str]:
        """The records matching ``filters`` (the whole log by default) as JSONL or CSV with a signed tree head
        and an inclusion proof per record (:mod:`triage.domain.audit.export_format`), streamed: each item is a
        chunk of whole lines.

        Blocking until the first chunk: the tree is built and the head signed before this returns, so a
        damaged log (``Conflict``) or a database outage fails the call, not the middle of a download."""
        if fmt not in ("jsonl", "csv"):
            raise InvalidInput(f"unknown export format {fmt!r}: use jsonl or csv")
        filters = filters or AuditFilters()
        with read_snapshot(self.sessions) as session:
            verified = verified_tree(session, self.repository, self.signer, self._latest_anchor())
            selected = (
                None
                if filters == AuditFilters()
                else self.repository.seqs(session, filters, upto=verified.size)
            )
        header = self._export_header(verified, filters, selected)
        return self._export_chunks(fmt, header, verified, filters)

    def _latest_anchor(self) -> SignedTreeHead | None:
        latest = self.anchors.latest() if self.anchors is not None else None
        return latest if isinstance(latest, SignedTreeHead) else None

    def _export_header(
        self, verified: VerifiedTree, filters: AuditFilters, selected: list[int] | None
    ) -> ExportHeader:
        head, entry, private = sign_tree_head(self.keyring, verified, self.clock)
        filter_ = export_format.filter_dict(filters)
        count = verified.size if selected is None else len(selected)
        selection = ExportSelection(
            filter=filter_,
            complete=selected is None,
            count=count,
            seqs=selected,
            signature=sign(private, selection_message(head, filter_, selected, count)),
        )
        return ExportHeader(tree_head=head, public_key=entry, selection=selection)

    def _export_chunks(
        self, fmt: ExportFormat, header: ExportHeader, verified: VerifiedTree, filters: AuditFilters
    ) -> Iterator[str]:
        csv = fmt == "csv"
        yield export_format.csv_header(header) if csv else export_format.jsonl_header(header)
        if not verified.size:
            return
        proofs = ProofBuilder(verified.tree, verified.size)
        after = 0
        while True:
            # A short transaction per page: a slow download never holds a lock or a snapshot for long.
            with read_snapshot(self.sessions) as session:
                page = self.repository.page(
                    session, filters, after=after, limit=AUDIT_MAX_PAGE, upto=verified.size
                )
                rows = [_row_dict(row) for row in page]
            lines: list[str] = []
            for record in rows:
                record["at"] = format_time(record["at"])
                path = proofs.proof(record["seq"] - 1)
                lines.append(
                    export_format.csv_record(record, path)
                    if csv
                    else export_format.jsonl_record(record, path)
                )
            if lines:
                yield "".join(lines)
            if len(rows) < AUDIT_MAX_PAGE:
                return
            after = rows[-1]["seq"]
