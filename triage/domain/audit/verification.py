"""Checking the database's chain: record hashes, links and HMACs, the HMAC-signed head, and every anchor.

This is the service's own check (it holds the HMAC key). Exports are checked with public keys only, by
:mod:`triage.domain.audit.export_verify`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from triage.domain.audit.anchors import Anchor
from triage.domain.audit.merkle import MerkleTree
from triage.domain.audit.records import record_hash, record_leaf
from triage.domain.audit.schemas import GENESIS_HASH, PublicKeyRead, SignedTreeHead, VerifyRead
from triage.domain.audit.signing import AuditSigner, head_message, load_public_pem, signature_valid


@dataclass(frozen=True)
class HeadState:
    """The database head row as read in the verification's snapshot."""

    seq: int
    hash: str
    at: datetime | None
    signature: str | None


class ChainVerifier:
    """Checks records one at a time, in sequence order; remembers the first problem and builds the tree.

    A record whose HMAC fails after others verified was rewritten. When the very first records fail, the
    verifier goes on checking hashes and links: if no record's HMAC verifies, the key may be the wrong one,
    which the Ed25519-signed anchors can tell (:func:`finish`).
    """

    def __init__(self, signer: AuditSigner, watch: Iterable[int] = ()) -> None:
        self.signer = signer
        self.expected_seq = 1
        self.prev_hash = GENESIS_HASH
        self.checked = 0
        self.first_bad_seq: int | None = None
        self.problem: str | None = None
        self.failure: Literal["tampered", "wrong_key"] | None = None
        self.hmac_failed_from: int | None = None
        self.watched: dict[int, str] = dict.fromkeys(watch, "")
        self.tree = MerkleTree()

    @property
    def ok(self) -> bool:
        return self.first_bad_seq is None

    @property
    def last_seq(self) -> int:
        return self.expected_seq - 1

    def fail(self, seq: int, problem: str, failure: Literal["tampered", "wrong_key"] = "tampered") -> None:
        if self.first_bad_seq is None or seq < self.first_bad_seq:
            self.first_bad_seq, self.problem, self.failure = seq, problem, failure

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
        if not self._hmac_consistent(seq, record.get("signature"), stored_hash):
            return False
        if seq in self.watched:
            self.watched[seq] = stored_hash
        self.prev_hash = stored_hash
        self.expected_seq += 1
        self.checked += 1
        self.tree.append(record_leaf(stored_hash))
        return True

    def _hmac_consistent(self, seq: int, signature: str | None, stored_hash: str) -> bool:
        valid = self.signer.same(signature, self.signer.record(stored_hash))
        if valid and self.hmac_failed_from is not None:
            self.fail(
                self.hmac_failed_from,
                f"records {self.hmac_failed_from}..{seq - 1} have invalid HMACs while record {seq} verifies "
                "(rewritten with recomputed hashes)",
            )
            return False
        if not valid and self.hmac_failed_from is None:
            if self.checked:
                self.fail(seq, f"record {seq} has an invalid HMAC (rewritten with recomputed hashes)")
                return False
            self.hmac_failed_from = seq
        return True

    def result(self, head_seq: int, anchors_checked: int) -> VerifyRead:
        return VerifyRead(
            ok=self.ok,
            checked=self.checked,
            first_bad_seq=self.first_bad_seq,
            problem=self.problem,
            head_seq=head_seq,
            anchors_checked=anchors_checked,
            failure=self.failure,
        )


def finish(
    verifier: ChainVerifier,
    head: HeadState,
    anchors: Sequence[tuple[str, Anchor | None]],
    keys: Sequence[PublicKeyRead],
) -> None:
    """After the records: the signed head, every anchor, and a wrong HMAC key told from a rewrite."""
    if verifier.ok and verifier.hmac_failed_from is None:
        _check_head(verifier, head)
    confirmed = [_check_anchor(verifier, name, anchor, keys) for name, anchor in anchors]
    if verifier.hmac_failed_from is None:
        return
    if any(confirmed) and verifier.ok:
        verifier.fail(
            verifier.hmac_failed_from,
            "no record's HMAC verifies with the configured key, yet the records match the Ed25519-signed "
            "anchors: the wrong TRIAGE_AUDIT_SIGNING_KEY is configured (the log itself is intact)",
            "wrong_key",
        )
    else:
        verifier.fail(
            verifier.hmac_failed_from,
            "no record's HMAC verifies with the configured key: either TRIAGE_AUDIT_SIGNING_KEY is wrong or "
            "the whole log was rewritten with recomputed hashes (no matching Ed25519-signed anchor tells which)",
        )


def _check_head(verifier: ChainVerifier, head: HeadState) -> None:
    last, signer = verifier.last_seq, verifier.signer
    if head.seq == 0 and head.signature is None:
        if last > 0:
            verifier.fail(1, "the chain head was reset to genesis while records exist")
    elif head.at is None or not signer.same(head.signature, signer.head(head.seq, head.hash, head.at)):
        verifier.fail(min(head.seq, last + 1), "the chain head's signature is invalid")
    elif last < head.seq:
        verifier.fail(last + 1, f"the log ends at {last} but the signed head is at {head.seq} (truncated)")
    elif last > head.seq:
        verifier.fail(
            head.seq + 1, f"records after the signed head {head.seq} (appended outside the service)"
        )
    elif verifier.watched.get(head.seq, head.hash) != head.hash:
        verifier.fail(head.seq, f"record {head.seq} does not match the signed head (chain rewritten)")


def _check_anchor(
    verifier: ChainVerifier, name: str, anchor: Anchor | None, keys: Sequence[PublicKeyRead]
) -> bool:
    """Check one anchor; ``True`` when it is validly signed and the records match it."""
    last = verifier.last_seq
    if anchor is None:
        verifier.fail(last + 1, f"anchor {name} is unreadable")
        return False
    if isinstance(anchor, SignedTreeHead):
        size, chain_head, signed = anchor.tree_size, anchor.chain_head, _tree_head_signed(anchor, keys)
    else:
        size, chain_head = anchor.seq, anchor.hash
        signed = verifier.signer.same(anchor.signature, verifier.signer.anchor(size, chain_head, anchor.at))
    if not signed:
        verifier.fail(min(size, last + 1), f"anchor {name} has an invalid signature")
    elif size > last:
        verifier.fail(last + 1, f"the log ends at {last} but anchor {name} saw record {size} (truncated)")
    elif size > 0 and (
        verifier.watched.get(size) != chain_head
        or (isinstance(anchor, SignedTreeHead) and verifier.tree.root(size).hex() != anchor.root)
    ):
        verifier.fail(size, f"record {size} does not match anchor {name} (chain rewritten)")
    else:
        return isinstance(anchor, SignedTreeHead)
    return False


def _tree_head_signed(head: SignedTreeHead, keys: Sequence[PublicKeyRead]) -> bool:
    key = next((k for k in keys if k.key_id == head.key_id), None)
    return (
        key is not None
        and key.valid_at(head.at)
        and signature_valid(load_public_pem(key.public_key_pem), head_message(head), head.signature)
    )
