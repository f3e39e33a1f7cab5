"""The Merkle tree against a direct transcription of RFC 6962 (``MTH`` and ``PATH``), for random sizes."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triage.domain.audit.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
)


def leaves(n: int) -> list[bytes]:
    return [leaf_hash(hashlib.sha256(str(i).encode()).digest()) for i in range(n)]


def mth(hashes: list[bytes]) -> bytes:
    """RFC 6962 section 2.1, recursively, over leaf hashes."""
    if not hashes:
        return EMPTY_ROOT
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return node_hash(mth(hashes[:k]), mth(hashes[k:]))


def path(m: int, hashes: list[bytes]) -> list[bytes]:
    """RFC 6962 section 2.1.1, recursively."""
    if len(hashes) == 1:
        return []
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    if m < k:
        return [*path(m, hashes[:k]), mth(hashes[k:])]
    return [*path(m - k, hashes[k:]), mth(hashes[:k])]


def tree_of(hashes: list[bytes]) -> MerkleTree:
    tree = MerkleTree()
    for leaf in hashes:
        tree.append(leaf)
    return tree


def test_known_small_trees() -> None:
    a, b, c = leaves(3)
    tree = tree_of([a, b, c])

    assert tree.root(0) == hashlib.sha256(b"").digest()
    assert tree.root(1) == a
    assert tree.root(2) == node_hash(a, b)
    assert tree.root(3) == node_hash(node_hash(a, b), c)
    assert tree.inclusion_proof(2, 3) == [node_hash(a, b)]
    assert tree.inclusion_proof(0, 3) == [b, c]


@settings(max_examples=200, deadline=None)
@given(size=st.integers(min_value=1, max_value=300), data=st.data())
def test_roots_and_proofs_match_rfc6962(size: int, data: st.DataObject) -> None:
    hashes = leaves(size)
    tree = tree_of(hashes)
    prefix = data.draw(st.integers(min_value=1, max_value=size), label="prefix")
    index = data.draw(st.integers(min_value=0, max_value=prefix - 1), label="index")

    root = tree.root(prefix)
    proof = tree.inclusion_proof(index, prefix)

    assert root == mth(hashes[:prefix])
    assert proof == path(index, hashes[:prefix])
    assert root_from_inclusion_proof(hashes[index], index, prefix, proof) == root


@settings(max_examples=200, deadline=None)
@given(size=st.integers(min_value=2, max_value=200), data=st.data())
def test_a_proof_proves_nothing_else(size: int, data: st.DataObject) -> None:
    hashes = leaves(size)
    tree = tree_of(hashes)
    index = data.draw(st.integers(min_value=0, max_value=size - 1), label="index")
    other = data.draw(
        st.integers(min_value=0, max_value=size - 1).filter(lambda i: i != index), label="other"
    )
    proof = tree.inclusion_proof(index, size)
    root = tree.root(size)

    assert root_from_inclusion_proof(hashes[other], index, size, proof) != root  # another leaf
    assert root_from_inclusion_proof(hashes[index], other, size, proof) != root  # another position
    if proof:
        flipped = bytes([proof[0][0] ^ 1]) + proof[0][1:]
        assert root_from_inclusion_proof(hashes[index], index, size, [flipped, *proof[1:]]) != root
        assert root_from_inclusion_proof(hashes[index], index, size, proof[:-1]) != root  # shortened
    assert root_from_inclusion_proof(hashes[index], index, size, [*proof, root]) != root  # lengthened


def test_positions_outside_the_tree_are_refused() -> None:
    tree = tree_of(leaves(5))

    with pytest.raises(ValueError):
        tree.inclusion_proof(5, 5)
    with pytest.raises(ValueError):
        tree.root(6)
    assert root_from_inclusion_proof(leaves(1)[0], 5, 5, []) is None


def test_a_large_tree_is_built_in_one_pass() -> None:
    tree = tree_of(leaves(100_003))

    proof = tree.inclusion_proof(77_777)
    assert len(proof) == 17
    assert root_from_inclusion_proof(leaves(77_778)[-1], 77_777, tree.size, proof) == tree.root()
