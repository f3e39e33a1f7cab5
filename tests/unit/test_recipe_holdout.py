"""How the recipe draws its held-out rows and fits its temperature (``training._holdout_splits``,
``training._calibrate``), on small synthetic scores: no encoder needed."""

from __future__ import annotations

import numpy as np
import pytest

from triage.core.errors import InvalidInput
from triage.engines.classifier.training import Recipe, _calibrate, _HeldOut, _holdout_splits, _Rows
from triage.engines.retrieval.progress import Progress


def _rows(y: np.ndarray) -> _Rows:
    texts = [f"row {i}" for i in range(len(y))]
    return _Rows(labels=["a", "b"], texts=texts, noisy=[[t + "!" for t in texts]], y=y)


def test_cluster_holdout_holds_one_phrasing_cluster_of_every_label_out() -> None:
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 40)
    # every label has two phrasings far apart in the embedding space, 20 rows each
    centres = np.eye(4, 8, dtype=np.float32) * 10
    blob = np.tile(np.repeat([0, 1], 20), 2) + 2 * y
    emb = centres[blob] + rng.normal(scale=0.1, size=(80, 8)).astype(np.float32)
    [(train, held)] = _holdout_splits(_rows(y), emb, 2, Recipe(holdout="cluster"), seed=0)
    assert len(held) == 40 and set(np.unique(y[held])) == {0, 1}
    # each label's held-out rows are one whole phrasing, which the training rows never show
    for label in (0, 1):
        assert len(set(blob[held][y[held] == label])) == 1
    assert not set(blob[held]) & set(blob[train])
    assert sorted(np.concatenate([train, held]).tolist()) == list(range(80))
    [(_, stratified)] = _holdout_splits(_rows(y), emb, 2, Recipe(), seed=0)
    assert set(blob[stratified]) == {0, 1, 2, 3}  # the default draws at random within every label
    with pytest.raises(InvalidInput, match="unknown holdout"):
        _holdout_splits(_rows(y), emb, 2, Recipe(holdout="by-date"), seed=0)


def _held_out(y: np.ndarray) -> _HeldOut:
    """One member that gets every held-out row right as written, and a fifth of their perturbed copies wrong."""
    clean = np.where(np.eye(2)[y] > 0, 0.0, -8.0)
    shifted = clean.copy()
    shifted[::5] = shifted[::5, ::-1]
    return _HeldOut(
        rows=np.arange(len(y)),
        fold_of=np.zeros(len(y), dtype=np.int64),
        scores=[clean],
        warm={},
        tuned_heads={},
        shifted=[shifted],
        novelty=np.linspace(0.1, 0.3, len(y)),
        novelty_shifted=np.linspace(0.2, 0.5, len(y)),
    )


def test_temperature_is_fitted_on_the_perturbed_copies_too() -> None:
    y = np.tile([0, 1], 20)
    data, held = _rows(y), _held_out(y)
    quiet = Progress(False)
    clean = _calibrate(data, held, ["embedding"], Recipe(temperature_on="clean"), quiet)
    both = _calibrate(data, held, ["embedding"], Recipe(), quiet)
    # rows all right as written: the clean fit runs to the floor and the model is sure of everything
    assert clean.temperature == pytest.approx(0.05)
    # with the copies (a fifth of them wrong), confidence is fitted to the pooled accuracy, 90 %
    top = 1 / (1 + np.exp(-8.0 / both.temperature))
    assert top == pytest.approx(0.9, abs=0.01)
    assert both.cv_shifted is not None and both.cv_shifted["ece"] < clean.cv_shifted["ece"]  # type: ignore[index]
