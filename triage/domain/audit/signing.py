"""The two signatures of the audit log, and what exactly each one signs.

- HMAC-SHA256 with ``TRIAGE_AUDIT_SIGNING_KEY`` on every record and on the database head: the service's own
  check that nobody without the secret rewrote a record. Only the service can check it (and could forge it).
- Ed25519 on tree heads (anchors, exports) and on an export's selection: anyone holding the public key can
  check them and nobody holding only the public key can make one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import SecretStr

from triage.core.hashing import canonical_json
from triage.domain.audit.records import format_time
from triage.domain.audit.schemas import SignedTreeHead

TREE_HEAD_PURPOSE = "triage-audit-tree-head/1"
SELECTION_PURPOSE = "triage-audit-selection/1"


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


def key_id_of(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public: Ed25519PublicKey) -> str:
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def private_pem(private: Ed25519PrivateKey) -> bytes:
    return private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_public_pem(text: str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM; ``ValueError`` for anything else."""
    key = serialization.load_pem_public_key(text.encode("ascii"))
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def load_private_pem(data: bytes) -> Ed25519PrivateKey:
    """An unencrypted Ed25519 private key from PEM; ``ValueError`` (or ``TypeError``) for anything else."""
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("not an Ed25519 private key")
    return key


def sign(private: Ed25519PrivateKey, message: bytes) -> str:
    return base64.b64encode(private.sign(message)).decode("ascii")


def signature_valid(public: Ed25519PublicKey, message: bytes, signature: str) -> bool:
    try:
        public.verify(base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def tree_head_message(tree_size: int, root: str, chain_head: str, at: datetime, key_id: str) -> bytes:
    return canonical_json(
        {
            "purpose": TREE_HEAD_PURPOSE,
            "tree_size": tree_size,
            "root": root,
            "chain_head": chain_head,
            "at": format_time(at),
            "key_id": key_id,
        }
    ).encode("utf-8")


def head_message(head: SignedTreeHead) -> bytes:
    return tree_head_message(head.tree_size, head.root, head.chain_head, head.at, head.key_id)


def selection_message(
    head: SignedTreeHead, filter_: dict[str, str], seqs: list[int] | None, count: int
) -> bytes:
    """What an export's selection signature covers: the selection bound to one signed head (its signature
    included), so a selection cannot be moved to another head nor a record list edited."""
    return canonical_json(
        {
            "purpose": SELECTION_PURPOSE,
            "tree_head_signature": head.signature,
            "filter": filter_,
            "complete": seqs is None,
            "count": count,
            "seqs": seqs,
        }
    ).encode("utf-8")
