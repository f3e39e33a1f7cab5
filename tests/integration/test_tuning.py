"""Fine-tuning the real MiniLM encoder on a few labelled texts, and laying the tuned tensors over a copy."""

from __future__ import annotations

import numpy as np
import pytest

from triage.core.errors import ArtifactError
from triage.engines.embedder import CachingEmbedder, SentenceTransformerEmbedder
from triage.engines.tuning import PREFIX, TunedEmbedder, TuningPlan, fine_tune, sentence_model, tensors_digest

TEXTS = [
    ("the parcel is stuck at the carrier depot", 0),
    ("truck broke down, delivery will be late", 0),
    ("carrier rejected the load at pickup", 0),
    ("shipment missed its delivery window", 0),
    ("customer is over the credit limit", 1),
    ("finance blocked the order for unpaid invoices", 1),
    ("credit check failed on this account", 1),
    ("order held until the overdue balance is paid", 1),
]


@pytest.fixture(scope="module")
def embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder()


def _margin(vectors: np.ndarray, y: np.ndarray) -> float:
    """Mean same-label cosine minus mean other-label cosine."""
    sims = vectors @ vectors.T
    same = (y[:, None] == y[None, :]) & ~np.eye(len(y), dtype=bool)
    return float(sims[same].mean() - sims[y[:, None] != y[None, :]].mean())


def test_tuning_pulls_labels_apart_and_leaves_the_base_model_alone(
    embedder: SentenceTransformerEmbedder,
) -> None:
    texts = [t for t, _ in TEXTS] * 4
    y = np.array([label for _, label in TEXTS] * 4)
    before = embedder.embed(texts[:8])
    tensors = fine_tune(
        embedder.model, texts, [t.upper() for t in texts], y, 2, plan=TuningPlan(epochs=3), progress=False
    )
    assert tensors and all(name.startswith(PREFIX) for name in tensors)
    assert not any(name.startswith(PREFIX + "embeddings.") for name in tensors)  # word embeddings stay frozen
    assert np.allclose(embedder.embed(texts[:8]), before)  # the served model was not touched

    tuned = TunedEmbedder(embedder.model, tensors, model_id="m+tuned:x")
    after = tuned.embed(texts[:8])
    assert after.shape == before.shape and np.allclose(np.linalg.norm(after, axis=1), 1.0, atol=1e-5)
    assert _margin(after, y[:8]) > _margin(before, y[:8]) + 0.05
    assert tensors_digest(tensors) == tensors_digest(dict(reversed(list(tensors.items()))))


def test_tuned_tensors_that_do_not_fit_are_refused(embedder: SentenceTransformerEmbedder) -> None:
    tensors = fine_tune(
        embedder.model,
        [t for t, _ in TEXTS],
        [t for t, _ in TEXTS],
        np.array([y for _, y in TEXTS]),
        2,
        plan=TuningPlan(epochs=1),
        progress=False,
    )
    first = next(iter(tensors))
    with pytest.raises(ArtifactError, match="missing"):
        TunedEmbedder(embedder.model, {k: v for k, v in tensors.items() if k != first}, model_id="x")
    with pytest.raises(ArtifactError, match="shape"):
        TunedEmbedder(embedder.model, tensors | {first: np.zeros((1, 1), np.float32)}, model_id="x")


def test_sentence_model_sees_through_the_cache(embedder: SentenceTransformerEmbedder) -> None:
    assert sentence_model(CachingEmbedder(embedder)) is embedder.model

    class Plain:
        model_id, dimension = "plain", 3

        def embed(self, texts: list[str]) -> np.ndarray:
            return np.zeros((len(texts), 3), np.float32)

    assert sentence_model(Plain()) is None
