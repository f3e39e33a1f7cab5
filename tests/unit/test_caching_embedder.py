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


class UnitEmbedder(CountingEmbedder):
    """Unit rows, so the classifier's knn member and the case store accept them."""

    def embed(self, texts: list[str]) -> NDArray[np.float32]:
        rows = super().embed(texts)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_one_triage_runs_one_encoder_pass_per_text() -> None:
    """The bootstrapped setup: frozen-encoder members and a frozen-space store share the serving embedder
    (cache over micro-batcher over the encoder), so classify-then-retrieve encodes each text once."""
    from pathlib import Path
    from types import SimpleNamespace

    from triage.engines.batching import MicroBatcher
    from triage.engines.classifier.model import Ensemble, LinearHead, NeighbourHead, TextClassifier
    from triage.engines.retrieval import vectors_for
    from triage.engines.retrieval.space import VectorSpaceStore

    inner = UnitEmbedder()
    batcher = MicroBatcher(inner)
    served = CachingEmbedder(batcher)
    heads: dict[str, LinearHead | NeighbourHead] = {
        "embedding": LinearHead(np.eye(2, 3, dtype=np.float32), np.zeros(2, dtype=np.float32)),
        "knn": NeighbourHead(np.eye(2, 3, dtype=np.float32), np.array([0, 1]), 2, 1, 0.1),
    }
    ensemble = Ensemble(heads, {}, {"embedding": 0.5, "knn": 0.5}, 1.0)
    classifier = TextClassifier(
        ensemble, served, {"version": "v", "labels": ["a", "b"], "embedding_model": "fake"}
    )
    store = VectorSpaceStore(
        SimpleNamespace(model_id="fake"),  # type: ignore[arg-type]  # the backend is never searched here
        embedding_model_id="fake",
        projection_file=Path("unused.npy"),
        projection=None,
    )
    for text in ("first exception", "second exception"):
        classifier.predict([text])
        vectors_for(store, served, [text])
    batcher.close()
    assert inner.seen == ["first exception", "second exception"]
