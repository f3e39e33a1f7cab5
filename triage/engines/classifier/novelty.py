"""Novelty: how unlike the training rows a text is, so the gate can send what the model never saw to a person.

The score is one minus the mean cosine similarity of the text's frozen embedding to its ``k`` most similar
training rows (rows and texts are unit-norm): about 0 for a text the training data has, rising as the phrasing
moves away from anything seen. It costs one matrix product over the stored rows (a few milliseconds at 10k
rows), on the embedding the classifier computes anyway.

The threshold is fitted at training time on held-out rows, never on the rows the bank holds: the novelty of
each held-out row against the other rows, and the threshold the ``quantile`` of those scores (with the default
0.98, about 2 in 100 inputs written like the training data are called novel). The training metadata records,
for the held-out rows and for their perturbed copies (typos, casing, colloquial shortcuts: the shifted
slice), the share called novel and the accuracy on either side of the threshold, so the choice can be checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

CHUNK = 1024
DEFAULT_K = 5


def knn_novelty(
    queries: NDArray[np.float32], bank: NDArray[np.float32], k: int = DEFAULT_K
) -> NDArray[np.float64]:
    """One minus the mean cosine similarity of each query to its ``k`` nearest rows of ``bank``."""
    k = max(1, min(k, len(bank)))
    out = np.empty(len(queries))
    for start in range(0, len(queries), CHUNK):
        sims = np.asarray(queries[start : start + CHUNK] @ bank.T, dtype=np.float64)
        top = np.partition(sims, len(bank) - k, axis=1)[:, len(bank) - k :]
        out[start : start + len(sims)] = 1.0 - top.mean(axis=1)
    return np.clip(out, 0.0, 2.0)


@dataclass(frozen=True)
class NoveltyScorer:
    """Scores texts' embeddings against the training rows; ``threshold`` and above is novel."""

    bank: NDArray[np.float32]
    k: int
    threshold: float

    def score(self, embeddings: NDArray[np.float32]) -> NDArray[np.float64]:
        return knn_novelty(embeddings, self.bank, self.k)


def fit_threshold(held_out: NDArray[np.float64], quantile: float) -> float:
    """The novelty at ``quantile`` of the held-out rows' scores (rounded up a little: it is a boundary)."""
    return float(np.ceil(np.quantile(held_out, quantile) * 10_000) / 10_000)


def novelty_report(
    novelty: NDArray[np.float64], correct: NDArray[np.bool_], threshold: float
) -> dict[str, Any]:
    """Share called novel, and the accuracy of the rows below and at-or-above the threshold."""
    novel = novelty >= threshold

    def accuracy(mask: NDArray[np.bool_]) -> float | None:
        return round(float(correct[mask].mean()), 4) if mask.any() else None

    return {
        "n": len(novelty),
        "novel_share": round(float(novel.mean()), 4) if len(novelty) else 0.0,
        "accuracy_familiar": accuracy(~novel),
        "accuracy_novel": accuracy(novel),
    }
