"""An RFC 6962 (Certificate Transparency) Merkle tree over the audit records, in sequence order.

Leaf hash = SHA-256(0x00 || leaf), node hash = SHA-256(0x01 || left || right); a tree of ``n`` leaves splits
at the largest power of two below ``n``. Only complete subtrees are stored: level ``k`` holds the roots of the
aligned blocks of ``2**k`` leaves, 32 bytes each in one ``bytearray`` per level (about 64 bytes per leaf).
Appending is O(1) amortised; the root of any prefix and an inclusion proof are O(log n) lookups plus the few
incomplete subtrees on the right edge, which :class:`ProofBuilder` computes once per tree size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""RFC 6962: the hash of an empty tree is the hash of the empty string."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """Leaf hashes appended in order; roots of prefixes and inclusion proofs for any size up to ``size``."""

    def __init__(self) -> None:
        self._levels: list[bytearray] = [bytearray()]

    @property
    def size(self) -> int:
        return len(self._levels[0]) // HASH_SIZE

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash (the output of :func:`leaf_hash`)."""
        node, level = leaf, 0
        while True:
            nodes = self._levels[level]
            nodes += node
            if (len(nodes) // HASH_SIZE) % 2:
                return
            node = node_hash(bytes(nodes[-2 * HASH_SIZE : -HASH_SIZE]), node)
            level += 1
            if level == len(self._levels):
                self._levels.append(bytearray())

    def complete(self, start: int, width: int) -> bytes:
        """The root of the complete, aligned block of ``width`` (a power of two) leaves from ``start``."""
        level = width.bit_length() - 1
        offset = (start >> level) * HASH_SIZE
        return bytes(self._levels[level][offset : offset + HASH_SIZE])

    def root(self, size: int | None = None) -> bytes:
        """The root of the first ``size`` leaves (all of them by default)."""
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise ValueError(f"tree size {size} is outside 0..{self.size}")
        return ProofBuilder(self, size).root() if size else EMPTY_ROOT

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """The audit path of leaf ``index`` in the tree of the first ``size`` leaves (RFC 6962 ``PATH``)."""
        return ProofBuilder(self, self.size if size is None else size).proof(index)


class ProofBuilder:
    """Inclusion proofs against one tree size; the incomplete subtrees are computed once and reused, so a
    proof costs O(log n) lookups however many are built (a whole-log export builds one per record)."""

    def __init__(self, tree: MerkleTree, size: int) -> None:
        if not 0 < size <= tree.size:
            raise ValueError(f"tree size {size} is outside 1..{tree.size}")
        self.tree = tree
        self.size = size
        self._ragged: dict[tuple[int, int], bytes] = {}

    def subtree(self, start: int, end: int) -> bytes:
        """``MTH(D[start:end])`` for a range that occurs in the RFC 6962 recursion of this tree size."""
        width = end - start
        if width & (width - 1) == 0:
            return self.tree.complete(start, width)
        found = self._ragged.get((start, end))
        if found is None:
            middle = start + _split(width)
            found = node_hash(self.subtree(start, middle), self.subtree(middle, end))
            self._ragged[(start, end)] = found
        return found

    def root(self) -> bytes:
        return self.subtree(0, self.size)

    def proof(self, index: int) -> list[bytes]:
        if not 0 <= index < self.size:
            raise ValueError(f"leaf {index} is outside a tree of {self.size}")
        path: list[bytes] = []
        start, end = 0, self.size
        while end - start > 1:
            middle = start + _split(end - start)
            if index < middle:
                path.append(self.subtree(middle, end))
                end = middle
            else:
                path.append(self.subtree(start, middle))
                start = middle
        path.reverse()
        return path


def root_from_inclusion_proof(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes | None:
    """The root that ``path`` proves leaf ``index`` of a tree of ``size`` belongs to, or ``None`` when the
    path cannot belong to that position (RFC 9162, section 2.1.3.2). Compare the result with the signed root.
    """
    if not 0 <= index < size:
        return None
    fn, sn, node = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            node = node_hash(sibling, node)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            node = node_hash(node, sibling)
        fn >>= 1
        sn >>= 1
    return node if sn == 0 else None
