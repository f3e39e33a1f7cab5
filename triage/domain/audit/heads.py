"""Signed tree heads: the Merkle tree over the records, checked before anything is signed over it.

The service signs a head only over records whose HMACs and links verify, whose database head agrees, and
that extend the latest anchor: an Ed25519 signature must never vouch for records someone rewrote in the
database. The check reads ``seq, prev_hash, hash, signature`` only (no JSON), so it stays linear and cheap; a
record whose JSON was edited without its hash is caught by any verifier, which recomputes the hash.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from triage.core.clock import Clock
from triage.core.errors import Conflict
from triage.domain.audit.anchors import Anchor
from triage.domain.audit.keyring import AuditKeyring
from triage.domain.audit.merkle import MerkleTree
from triage.domain.audit.records import record_leaf
from triage.domain.audit.repositories import AuditRepository
from triage.domain.audit.schemas import GENESIS_HASH, PublicKeyRead, SignedTreeHead
from triage.domain.audit.signing import AuditSigner, sign, tree_head_message

DAMAGED = "no tree head is signed over a damaged log; run `triage audit verify`"


@dataclass(frozen=True)
class VerifiedTree:
    """The tree over records ``1..size`` whose links and HMACs verified, and the chain's head hash."""

    tree: MerkleTree
    chain_head: str

    @property
    def size(self) -> int:
        return self.tree.size


def verified_tree(
    session: Session, repository: AuditRepository, signer: AuditSigner, latest: Anchor | None
) -> VerifiedTree:
    """The tree of every record up to the database head, or ``Conflict`` naming the first bad record."""
    head = repository.head(session)
    if head.seq and (
        head.at is None or not signer.same(head.signature, signer.head(head.seq, head.hash, head.at))
    ):
        raise Conflict(f"the audit log's head signature is invalid; {DAMAGED}")
    tree, prev = MerkleTree(), GENESIS_HASH
    for seq, prev_hash, hash_, signature in repository.iter_links(session, upto=head.seq):
        if seq != tree.size + 1 or prev_hash != prev or not signer.same(signature, signer.record(hash_)):
            raise Conflict(f"the audit log fails its check at record {tree.size + 1}; {DAMAGED}")
        tree.append(record_leaf(hash_))
        prev = hash_
    if tree.size != head.seq or prev != head.hash:
        raise Conflict(f"the audit log ends at {tree.size}, not at its head {head.seq}; {DAMAGED}")
    if isinstance(latest, SignedTreeHead) and (
        latest.tree_size > tree.size or tree.root(latest.tree_size).hex() != latest.root
    ):
        raise Conflict(f"the audit log does not extend its anchor of {latest.tree_size} records; {DAMAGED}")
    return VerifiedTree(tree, prev)


def sign_tree_head(
    keyring: AuditKeyring, verified: VerifiedTree, clock: Clock
) -> tuple[SignedTreeHead, PublicKeyRead, Ed25519PrivateKey]:
    """The head of ``verified`` signed now with the current key, that key's entry and the private key."""
    entry, private = keyring.signing_key()
    at, root = clock(), verified.tree.root().hex()
    message = tree_head_message(verified.size, root, verified.chain_head, at, entry.key_id)
    head = SignedTreeHead(
        tree_size=verified.size,
        root=root,
        chain_head=verified.chain_head,
        at=at,
        key_id=entry.key_id,
        signature=sign(private, message),
    )
    return head, entry, private
