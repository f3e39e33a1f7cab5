"""The ``classify`` suite: the contract metrics plus calibration, risk-coverage, the policy's operating points
and the worst mistakes, for the model and for a TF-IDF + logistic-regression baseline trained beside it."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from triage.engines.classifier.metrics import classification_metrics
from triage.evaluation.metrics import (
    Scored,
    adaptive_reliability,
    arrays,
    confusion_matrix,
    ece_of,
    near_thresholds,
    policy_operating_points,
    risk_coverage,
    worst_mistakes,
)

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from triage.engines.classifier import TextClassifier
    from triage.engines.datasets import LabelledText
    from triage.engines.policy.models import Policy

PREDICT_BATCH = 256
BASELINE_NAME = "TF-IDF word 1-2-grams + logistic regression"


@dataclass(frozen=True)
class ClassifyOptions:
    near_width: float = 0.05
    """Half-width of the confidence window around each threshold in force."""
    worst: int = 25
    """How many of the most confident mistakes to list."""
    adaptive_bins: int = 15


def scored_from_proba(
    proba: NDArray[np.float64], labels: Sequence[str], rows: Sequence[LabelledText]
) -> list[Scored]:
    order = np.argsort(-proba, axis=1, kind="stable")
    items = []
    for row, p, idx in zip(rows, proba, order, strict=True):
        second = float(p[idx[1]]) if len(idx) > 1 else 0.0
        items.append(Scored(row.text, row.label, labels[int(idx[0])], float(p[idx[0]]), second))
    return items


def predict_proba(classifier: TextClassifier, texts: list[str]) -> NDArray[np.float64]:
    parts = [
        classifier.predict_proba(texts[start : start + PREDICT_BATCH])
        for start in range(0, len(texts), PREDICT_BATCH)
    ]
    return np.vstack(parts) if parts else np.zeros((0, len(classifier.labels)))


def score_model(classifier: TextClassifier, rows: Sequence[LabelledText]) -> list[Scored]:
    """The model's top two predictions for every row."""
    return scored_from_proba(predict_proba(classifier, [r.text for r in rows]), classifier.labels, rows)


def score_baseline(
    train: Sequence[LabelledText], rows: Sequence[LabelledText], seed: int = 0
) -> tuple[list[Scored], float]:
    """A TF-IDF + logistic-regression baseline trained on ``train``, scored on ``rows``; and its fit seconds."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    started = time.perf_counter()
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)
    features = vectorizer.fit_transform([r.text for r in train])
    model = LogisticRegression(C=10.0, max_iter=1000, random_state=seed)
    model.fit(features, [r.label for r in train])
    seconds = time.perf_counter() - started
    proba = np.asarray(model.predict_proba(vectorizer.transform([r.text for r in rows])), dtype=np.float64)
    return scored_from_proba(proba, [str(c) for c in model.classes_], rows), seconds


def summarize(
    items: Sequence[Scored], policy: Policy, labels: Sequence[str], options: ClassifyOptions
) -> dict[str, Any]:
    """Every figure of the suite for one set of predictions."""
    conf, hit = arrays(items)
    y_true = [s.label for s in items]
    y_pred = [s.predicted for s in items]
    result = classification_metrics(y_true, y_pred, conf)
    adaptive = adaptive_reliability(conf, hit, options.adaptive_bins)
    shown = sorted(set(labels) | set(y_true))
    result |= {
        "ece_adaptive": ece_of(adaptive),
        "reliability_adaptive": adaptive,
        "risk_coverage": risk_coverage(conf, hit),
        "labels": shown,
        "confusion_matrix": confusion_matrix(y_true, y_pred, shown),
        "near_thresholds": near_thresholds(items, policy, labels, options.near_width),
        "policy_thresholds": policy_operating_points(items, policy, labels),
        "worst_mistakes": worst_mistakes(items, options.worst),
    }
    return result


def baseline_summary(full: dict[str, Any]) -> dict[str, Any]:
    """What the report shows of the baseline beside the model."""
    keys = ("n", "accuracy", "macro_f1", "ece", "ece_adaptive", "coverage_at_precision", "risk_coverage")
    return {key: full[key] for key in keys} | {
        "policy_auto": full["policy_thresholds"]["overall"]["auto"],
    }


def classify_suite(
    classifier: TextClassifier,
    rows: Sequence[LabelledText],
    policy: Policy,
    *,
    train: Sequence[LabelledText] | None = None,
    options: ClassifyOptions | None = None,
) -> tuple[dict[str, Any], list[Scored]]:
    """The suite's JSON (the contract's keys at the top) and the model's scored items (for ``thresholds``)."""
    options = options or ClassifyOptions()
    started = time.perf_counter()
    items = score_model(classifier, rows)
    seconds = time.perf_counter() - started
    result = summarize(items, policy, classifier.labels, options)
    result |= {
        "model_version": classifier.version,
        "unknown_labels": sorted({row.label for row in rows} - set(classifier.labels)),
        "predict_seconds": seconds,
        "policy_version": policy.version,
    }
    if train:
        baseline, fit_seconds = score_baseline(train, rows)
        summary = baseline_summary(summarize(baseline, policy, classifier.labels, options))
        result["baseline"] = {"name": BASELINE_NAME, "train_rows": len(train), "fit_seconds": fit_seconds}
        result["baseline"] |= summary
    return result, items
