"""Classification metrics of the ``triage eval classify`` contract, in plain numpy.

ECE uses 15 equal-width bins of the top-1 confidence; coverage at precision sorts the items by confidence
(highest first) and reports the largest share k/n whose top k keep precision at or above the level.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

ECE_BINS = 15
PRECISION_LEVELS = ("0.95", "0.99")


def _arrays(confidence: ArrayLike, correct: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    conf = np.asarray(confidence, dtype=np.float64).ravel()
    hit = np.asarray(correct, dtype=bool).ravel()
    if conf.shape != hit.shape:
        raise ValueError("confidence and correct must have the same length")
    return conf, hit


def _bin_index(conf: np.ndarray, bins: int) -> np.ndarray:
    # Bins are (lo, hi]; a confidence of exactly 0 falls in the first bin.
    index: np.ndarray = np.clip(np.ceil(conf * bins).astype(int) - 1, 0, bins - 1)
    return index


def reliability_table(
    confidence: ArrayLike, correct: ArrayLike, bins: int = ECE_BINS
) -> list[dict[str, float]]:
    """One row per non-empty bin: its bounds, size, mean confidence and accuracy."""
    conf, hit = _arrays(confidence, correct)
    index = _bin_index(conf, bins)
    rows = []
    for b in range(bins):
        mask = index == b
        count = int(mask.sum())
        if count:
            rows.append(
                {
                    "lower": b / bins,
                    "upper": (b + 1) / bins,
                    "count": count,
                    "confidence": float(conf[mask].mean()),
                    "accuracy": float(hit[mask].mean()),
                }
            )
    return rows


def expected_calibration_error(confidence: ArrayLike, correct: ArrayLike, bins: int = ECE_BINS) -> float:
    """Sum over bins of (bin share) * |accuracy - mean confidence|."""
    conf, _ = _arrays(confidence, correct)
    if conf.size == 0:
        return 0.0
    table = reliability_table(confidence, correct, bins)
    return float(sum(row["count"] / conf.size * abs(row["accuracy"] - row["confidence"]) for row in table))


def coverage_at_precision(confidence: ArrayLike, correct: ArrayLike, level: float) -> float:
    """The largest k/n such that the k most confident items have precision >= ``level`` (0 if none)."""
    conf, hit = _arrays(confidence, correct)
    if conf.size == 0:
        return 0.0
    order = np.argsort(-conf, kind="stable")
    precision = np.cumsum(hit[order]) / np.arange(1, conf.size + 1)
    ok = np.nonzero(precision >= level - 1e-12)[0]
    return float((ok[-1] + 1) / conf.size) if ok.size else 0.0


def per_class_report(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support for every label seen in the truth or the predictions."""
    true_count = Counter(y_true)
    pred_count = Counter(y_pred)
    hits = Counter(t for t, p in zip(y_true, y_pred, strict=True) if t == p)
    report: dict[str, dict[str, float]] = {}
    for label in sorted(set(true_count) | set(pred_count)):
        tp = hits[label]
        precision = tp / pred_count[label] if pred_count[label] else 0.0
        recall = tp / true_count[label] if true_count[label] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        report[label] = {"precision": precision, "recall": recall, "f1": f1, "support": true_count[label]}
    return report


def confusion_pairs(y_true: Sequence[str], y_pred: Sequence[str], top: int = 10) -> list[dict[str, Any]]:
    """The most frequent (true, predicted) mistakes."""
    pairs = Counter((t, p) for t, p in zip(y_true, y_pred, strict=True) if t != p)
    return [{"true": t, "predicted": p, "count": n} for (t, p), n in pairs.most_common(top)]


def classification_metrics(
    y_true: Sequence[str], y_pred: Sequence[str], confidence: ArrayLike
) -> dict[str, Any]:
    """The contract JSON of ``triage eval classify`` (plus the reliability table and top confusions)."""
    if len(y_true) != len(y_pred):
        raise ValueError("y_true and y_pred must have the same length")
    correct = np.array([t == p for t, p in zip(y_true, y_pred, strict=True)], dtype=bool)
    per_class = per_class_report(y_true, y_pred)
    n = len(y_true)
    return {
        "n": n,
        "accuracy": float(correct.mean()) if n else 0.0,
        "macro_f1": float(np.mean([c["f1"] for c in per_class.values()])) if per_class else 0.0,
        "ece": expected_calibration_error(confidence, correct),
        "coverage_at_precision": {
            level: coverage_at_precision(confidence, correct, float(level)) for level in PRECISION_LEVELS
        },
        "per_class": per_class,
        "reliability": reliability_table(confidence, correct),
        "confusions": confusion_pairs(y_true, y_pred),
    }
