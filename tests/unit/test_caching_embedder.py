"""The per-process embedding cache: same vectors as the inner embedder, computed once, bounded."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from triage.engines.embedder import CachingEmbedder


class CountingEmbedder:
    model_id = "fake"
    dimension = 3

    def __init__(self) -> None:
        self.seen: list[str] = []

    def embed(self, texts: list[str]) -> NDArray[np.float32]:
        self.seen.extend(texts)
        return np.array([[len(t), ord(t[0]), 1.0] for t in texts], dtype=np.float32)


def test_cached_vectors_equal_fresh_ones_and_are_computed_once() -> None:
    inner = CountingEmbedder()
    cache = CachingEmbedder(inner, size=10)
    first = cache.embed(["alpha", "beta", "alpha"])
    second = cache.embed(["beta", "gamma"])
    assert np.array_equal(first, inner.embed(["alpha", "beta", "alpha"]))
    assert np.array_equal(second, inner.embed(["beta", "gamma"]))
    assert inner.seen[:3] == ["alpha", "beta", "gamma"]


def test_the_cache_is_bounded_least_recently_used_first() -> None:
    inner = CountingEmbedder()
    cache = CachingEmbedder(inner, size=2)
    cache.embed(["a1", "b1"])
    cache.embed(["a1"])
    cache.embed(["c1"])
    inner.seen.clear()
    cache.embed(["a1", "b1"])
    assert inner.seen == ["b1"]
    assert cache.embed([]).shape == (0, 3)
