"""Training recipe: frozen-embedding LR + character TF-IDF LR, mixed and temperature-scaled on held-out folds.

Why this recipe (see ``eval/classifier_cv.py`` for the figures): the frozen MiniLM embedding carries meaning
and paraphrase; character n-grams carry the spelling-level evidence that a small encoder blurs (typos,
product words, keywords). One noisy copy of every training row (typos, casing, colloquial shortcuts) makes
both heads tolerate the register shift seen outside the training file. Fine-tuning the encoder was measured
too slow on two shared CPU cores for the 10-minute training budget.

Calibration never sees training predictions: the mixture weight and the temperature are fitted on
out-of-fold predictions (stratified K-fold over the training rows), and the same folds give the CV metrics
stored in the artifact.
"""

from __future__ import annotations

import random
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import softmax

from triage.core.errors import InvalidInput
from triage.core.hashing import sha256_json
from triage.engines.classifier.artifact import write_artifact
from triage.engines.classifier.augment import perturb
from triage.engines.classifier.calibration import fit_temperature
from triage.engines.classifier.metrics import classification_metrics
from triage.engines.classifier.model import LinearHead, char_vocabulary, new_char_vectorizer

if TYPE_CHECKING:
    from triage.engines.datasets import LabelledText
    from triage.engines.embedder import Embedder

MIN_ROWS_PER_CLASS = 3


@dataclass(frozen=True)
class Recipe:
    """The knobs of the recipe; the defaults are the ones chosen by cross-validation."""

    embedding_c: float = 16.0
    char_c: float = 16.0
    char_max_features: int = 60000
    augment_copies: int = 1
    folds: int = 3
    char_weights: tuple[float, ...] = (0.2, 0.3, 0.4, 0.5)
    max_iter: int = 300
    name: str = (
        "frozen-embedding LR + char 2-5-gram TF-IDF LR, noisy-copy augmentation, OOF weight + temperature"
    )
    extra: dict[str, Any] = field(default_factory=dict)


def _say(progress: bool, message: str) -> None:
    if progress:
        print(message, file=sys.stderr, flush=True)


def validate_rows(rows: list[LabelledText]) -> None:
    """Refuse data the recipe cannot learn from, with a message naming the problem."""
    if not rows:
        raise InvalidInput("no training rows")
    for i, row in enumerate(rows):
        if not row.text.strip():
            raise InvalidInput(f"row {i + 1}: empty text")
        if not row.label.strip():
            raise InvalidInput(f"row {i + 1}: empty label")
    counts = Counter(row.label for row in rows)
    if len(counts) < 2:
        raise InvalidInput(
            f"need at least two labels to train a classifier, found only {next(iter(counts))!r}"
        )
    small = sorted(label for label, n in counts.items() if n < MIN_ROWS_PER_CLASS)
    if small:
        shown = ", ".join(f"{label!r} ({counts[label]})" for label in small[:10])
        raise InvalidInput(f"each label needs at least {MIN_ROWS_PER_CLASS} rows; too few for: {shown}")


def training_data_sha256(rows: list[LabelledText]) -> str:
    return sha256_json([[row.text, row.label] for row in rows])


def _fit_lr(features: Any, y: NDArray[np.int64], c: float, max_iter: int) -> LinearHead:
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    # One BLAS/OpenMP thread: on a small shared CPU, oversubscribed thread pools made these fits ~10x slower.
    with threadpool_limits(limits=1):
        model = LogisticRegression(C=c, max_iter=max_iter).fit(features, y)
    n_classes = int(y.max()) + 1
    coef = np.zeros((n_classes, features.shape[1]), dtype=np.float32)
    intercept = np.full(n_classes, -1e4, dtype=np.float32)
    coef[model.classes_] = model.coef_
    intercept[model.classes_] = model.intercept_
    return LinearHead(coef=coef, intercept=intercept)


@dataclass
class _Members:
    embedding: LinearHead
    char: LinearHead
    vectorizer: Any


def _fit_members(
    emb: NDArray[np.float32], texts: list[str], y: NDArray[np.int64], recipe: Recipe
) -> _Members:
    vectorizer = new_char_vectorizer(recipe.char_max_features)
    char_features = vectorizer.fit_transform(texts)
    return _Members(
        embedding=_fit_lr(emb, y, recipe.embedding_c, recipe.max_iter),
        char=_fit_lr(char_features, y, recipe.char_c, recipe.max_iter),
        vectorizer=vectorizer,
    )


def _member_log_proba(
    m: _Members, emb: NDArray[np.float32], texts: list[str]
) -> tuple[NDArray[Any], NDArray[Any]]:
    return m.embedding.log_proba(emb), m.char.log_proba(m.vectorizer.transform(texts))


def _nll(log_p: NDArray[np.float64], y: NDArray[np.int64]) -> float:
    return float(-log_p[np.arange(len(y)), y].mean())


def train_classifier(
    rows: list[LabelledText],
    embedder: Embedder,
    out_dir: Path,
    *,
    seed: int = 0,
    progress: bool = True,
    recipe: Recipe | None = None,
) -> dict[str, Any]:
    """Train, calibrate on held-out folds, write the artifact to ``out_dir`` and return its metadata."""
    from sklearn.model_selection import StratifiedKFold

    recipe = recipe or Recipe()
    validate_rows(rows)
    started = time.monotonic()
    labels = sorted({row.label for row in rows})
    index = {label: i for i, label in enumerate(labels)}
    texts = [row.text for row in rows]
    y = np.array([index[row.label] for row in rows], dtype=np.int64)
    n = len(rows)

    rng = random.Random(seed)
    noisy = [[perturb(t, rng) for t in texts] for _ in range(recipe.augment_copies)]
    all_texts = texts + [t for copy in noisy for t in copy]
    _say(progress, f"embedding {len(all_texts)} texts ({n} rows + {recipe.augment_copies} noisy copies)")
    all_emb = embedder.embed(all_texts)
    copies = 1 + recipe.augment_copies

    def expand(idx: NDArray[np.int64]) -> NDArray[np.int64]:
        return np.concatenate([idx + c * n for c in range(copies)])

    y_all = np.tile(y, copies)
    folds = min(recipe.folds, min(Counter(y.tolist()).values()))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    oof_emb = np.zeros((n, len(labels)))
    oof_char = np.zeros((n, len(labels)))
    fold_of = np.zeros(n, dtype=np.int64)
    for k, (train_idx, test_idx) in enumerate(splitter.split(np.zeros(n), y)):
        _say(progress, f"cross-validation fold {k + 1}/{folds}")
        tr = expand(train_idx)
        members = _fit_members(all_emb[tr], [all_texts[i] for i in tr], y_all[tr], recipe)
        oof_emb[test_idx], oof_char[test_idx] = _member_log_proba(
            members, all_emb[test_idx], [texts[i] for i in test_idx]
        )
        fold_of[test_idx] = k

    char_weight = min(recipe.char_weights, key=lambda w: _nll((1 - w) * oof_emb + w * oof_char, y))
    oof = (1 - char_weight) * oof_emb + char_weight * oof_char
    temperature = fit_temperature(oof, y)
    # Honest CV figures: each fold is scored with a temperature fitted on the other folds only.
    confidence = np.zeros(n)
    for k in range(folds):
        held = fold_of == k
        t_k = fit_temperature(oof[~held], y[~held])
        confidence[held] = softmax(oof[held] / t_k, axis=1).max(axis=1)
    predicted = oof.argmax(axis=1)
    cv = classification_metrics([labels[i] for i in y], [labels[i] for i in predicted], confidence)
    member_accuracy = {
        "embedding": float((oof_emb.argmax(1) == y).mean()),
        "char": float((oof_char.argmax(1) == y).mean()),
    }
    _say(progress, f"fitting the final heads on all {n} rows (CV accuracy {cv['accuracy']:.4f})")
    final = _fit_members(all_emb, all_texts, y_all, recipe)
    vocabulary = char_vocabulary(final.vectorizer)
    tensors = {
        "embedding.coef": final.embedding.coef,
        "embedding.intercept": final.embedding.intercept,
        "char.coef": final.char.coef,
        "char.intercept": final.char.intercept,
        "char.idf": np.asarray(final.vectorizer.idf_, dtype=np.float32),
    }
    recipe_record = asdict(recipe)
    recipe_record["char_weights"] = list(recipe.char_weights)
    metadata: dict[str, Any] = {
        "embedding_model": embedder.model_id,
        "embedding_dimension": int(embedder.dimension),
        "labels": labels,
        "training_data_sha256": training_data_sha256(rows),
        "rows": n,
        "rows_per_label": {label: int(c) for label, c in sorted(Counter(r.label for r in rows).items())},
        "seed": seed,
        "recipe": recipe_record,
        "calibration": {"method": "temperature", "temperature": temperature, "char_weight": char_weight},
        "metrics": {
            "cv_folds": folds,
            "cv": {key: cv[key] for key in ("n", "accuracy", "macro_f1", "ece", "coverage_at_precision")},
            "cv_member_accuracy": member_accuracy,
        },
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    metadata["training_seconds"] = round(time.monotonic() - started, 1)
    return write_artifact(out_dir, tensors, vocabulary, metadata)
