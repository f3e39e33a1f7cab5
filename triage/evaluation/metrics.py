"""Classification figures beyond the ``eval classify`` contract, in plain numpy on (confidence, correct) arrays.

Equal-width reliability and ECE come from ``triage.engines.classifier.metrics`` (the contract's 15 bins);
this module adds equal-mass (adaptive) bins, the risk-coverage curve, the full confusion matrix, calibration
in a window around each threshold in force, the policy's own operating points per category, and the most
confident mistakes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from triage.engines.policy.gate import abstain_reason
from triage.engines.policy.models import Mode, Policy

RISK_COVERAGE_POINTS = 200


@dataclass(frozen=True)
class Scored:
    """One evaluated item: the truth, the top prediction, its confidence and the runner-up's."""

    text: str
    label: str
    predicted: str
    confidence: float
    second: float

    @property
    def correct(self) -> bool:
        return self.label == self.predicted


def arrays(items: Sequence[Scored]) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    conf = np.asarray([s.confidence for s in items], dtype=np.float64)
    hit = np.asarray([s.correct for s in items], dtype=bool)
    return conf, hit


def adaptive_reliability(confidence: ArrayLike, correct: ArrayLike, bins: int = 15) -> list[dict[str, float]]:
    """Equal-mass bins: the items sorted by confidence and cut into ``bins`` groups of (nearly) equal size."""
    conf = np.asarray(confidence, dtype=np.float64)
    hit = np.asarray(correct, dtype=bool)
    order = np.argsort(conf, kind="stable")
    rows = []
    for part in np.array_split(order, min(bins, max(1, conf.size))):
        if part.size:
            rows.append(
                {
                    "lower": float(conf[part].min()),
                    "upper": float(conf[part].max()),
                    "count": int(part.size),
                    "confidence": float(conf[part].mean()),
                    "accuracy": float(hit[part].mean()),
                }
            )
    return rows


def ece_of(table: list[dict[str, float]]) -> float:
    """Sum over bins of (bin share) * |accuracy - mean confidence|."""
    total = sum(row["count"] for row in table)
    if not total:
        return 0.0
    return float(sum(row["count"] / total * abs(row["accuracy"] - row["confidence"]) for row in table))


def risk_coverage(confidence: ArrayLike, correct: ArrayLike) -> dict[str, Any]:
    """Items sorted by confidence (highest first): risk (error rate) of the top k against coverage k/n.

    ``aurc`` is the area under the curve (mean risk over all k); ``points`` is the curve thinned to at most
    ``RISK_COVERAGE_POINTS`` points, each with the confidence of its k-th item (the threshold giving it).
    """
    conf = np.asarray(confidence, dtype=np.float64)
    hit = np.asarray(correct, dtype=bool)
    if conf.size == 0:
        return {"aurc": 0.0, "points": []}
    order = np.argsort(-conf, kind="stable")
    k = np.arange(1, conf.size + 1)
    risk = np.cumsum(~hit[order]) / k
    keep = np.unique(np.linspace(0, conf.size - 1, min(RISK_COVERAGE_POINTS, conf.size)).astype(int))
    points = [
        {"coverage": float(k[i] / conf.size), "risk": float(risk[i]), "threshold": float(conf[order][i])}
        for i in keep
    ]
    return {"aurc": float(risk.mean()), "points": points}


def confusion_matrix(y_true: Sequence[str], y_pred: Sequence[str], labels: list[str]) -> list[list[int]]:
    """Rows: true label, columns: predicted label, both in ``labels`` order (labels outside it are dropped)."""
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(y_true, y_pred, strict=True):
        if t in index and p in index:
            matrix[index[t], index[p]] += 1
    return [[int(v) for v in row] for row in matrix]


def _window(conf: NDArray[np.float64], hit: NDArray[np.bool_], mask: NDArray[np.bool_]) -> dict[str, Any]:
    count = int(mask.sum())
    if not count:
        return {"count": 0, "confidence": None, "accuracy": None, "gap": None}
    accuracy, mean = float(hit[mask].mean()), float(conf[mask].mean())
    return {"count": count, "confidence": mean, "accuracy": accuracy, "gap": accuracy - mean}


def near_thresholds(
    items: Sequence[Scored], policy: Policy, labels: Sequence[str], width: float
) -> list[dict[str, Any]]:
    """Calibration just below and just above every threshold in force, over the items it applies to.

    A threshold applies to the items predicted as a category that uses it; an ECE over all items hides a
    miscalibrated band right where the gate decides, which is what this shows.
    """
    uses: dict[tuple[str, float], list[str]] = {}
    for label in labels:
        rules = policy.category(label)
        for kind, value in (("auto", rules.thresholds.auto), ("review", rules.thresholds.review)):
            uses.setdefault((kind, float(value)), []).append(label)
    rows = []
    for (kind, value), applies_to in sorted(uses.items()):
        chosen = [s for s in items if s.predicted in set(applies_to)]
        conf, hit = arrays(chosen)
        below = (conf >= value - width) & (conf < value)
        above = (conf >= value) & (conf < value + width)
        rows.append(
            {
                "threshold": kind,
                "value": value,
                "width": width,
                "categories": sorted(applies_to),
                "below": _window(conf, hit, below),
                "above": _window(conf, hit, above),
            }
        )
    return rows


def _decision(policy: Policy, item: Scored) -> str:
    rules = policy.category(item.predicted)
    if abstain_reason(rules, item.confidence, item.second) is not None:
        return "abstain"
    margin_ok = item.confidence - item.second >= rules.ambiguity_margin
    return "auto" if item.confidence >= rules.thresholds.auto and margin_ok else "review"


def _band(items: Sequence[Scored], mask: list[bool]) -> dict[str, Any]:
    chosen = [s for s, m in zip(items, mask, strict=True) if m]
    n = len(items)
    return {
        "count": len(chosen),
        "coverage": len(chosen) / n if n else 0.0,
        "precision": (sum(s.correct for s in chosen) / len(chosen)) if chosen else None,
    }


def policy_operating_points(items: Sequence[Scored], policy: Policy, labels: Sequence[str]) -> dict[str, Any]:
    """Precision and coverage at the policy's own thresholds, per predicted category and overall.

    ``auto``: confidence at or above the category's ``auto`` threshold with the top-two margin met, i.e. what
    the gate would let through on confidence alone (``mode`` says whether the category may act at all);
    ``review``: between the thresholds; ``abstain``: below ``review`` or ambiguous (``on_ambiguity:
    abstain``). Coverage is the share of that category's predictions.
    """
    decisions = [_decision(policy, s) for s in items]
    per_category = {}
    for label in labels:
        rules = policy.category(label)
        mine = [i for i, s in enumerate(items) if s.predicted == label]
        chosen = [items[i] for i in mine]
        per_category[label] = {
            "mode": rules.mode.value,
            "auto_threshold": rules.thresholds.auto,
            "review_threshold": rules.thresholds.review,
            "predicted": len(mine),
            **{
                band: _band(chosen, [decisions[i] == band for i in mine])
                for band in ("auto", "review", "abstain")
            },
        }
    may_act = [policy.category(s.predicted).mode is Mode.AUTO for s in items]
    return {
        "per_category": per_category,
        "overall": {
            band: _band(items, [d == band for d in decisions]) for band in ("auto", "review", "abstain")
        },
        "overall_auto_mode_only": _band(
            items, [d == "auto" and ok for d, ok in zip(decisions, may_act, strict=True)]
        ),
    }


def worst_mistakes(items: Sequence[Scored], top: int) -> list[dict[str, Any]]:
    """The most confident wrong predictions first: the ones a threshold lets through."""
    wrong = sorted((s for s in items if not s.correct), key=lambda s: -s.confidence)[:top]
    return [
        {"text": s.text, "label": s.label, "predicted": s.predicted, "confidence": s.confidence}
        for s in wrong
    ]
