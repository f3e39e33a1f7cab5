"""Train on a small slice of BANKING77, then predict, evaluate and drive the CLI handlers end to end."""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
from pathlib import Path

import pytest

from triage.core.errors import InvalidInput
from triage.engines.classifier import Recipe, evaluate, load_classifier, train_classifier
from triage.engines.datasets import LabelledText, load_labelled

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
BANKING = DATASETS / "banking77" / "train.csv"
# Same code path as the default recipe (one held-out fold, three members, warm-started final fits), with
# fewer iterations and features to stay well under a minute.
QUICK = Recipe(folds=3, max_iter=100, char_max_features=20000, word_max_features=5000, weight_step=0.25)
LABELS = 10

pytestmark = [pytest.mark.datasets, pytest.mark.slow]


def _slice() -> tuple[list[LabelledText], list[LabelledText]]:
    if not BANKING.is_file():
        pytest.skip(f"{BANKING} is absent (the shared datasets folder ships beside the project, not in it)")
    rows = load_labelled(BANKING)
    keep = sorted({r.label for r in rows})[:LABELS]
    chosen = [r for r in rows if r.label in keep]
    random.Random(0).shuffle(chosen)
    return chosen[:600], chosen[600:800]


@pytest.fixture(scope="module")
def embedder():  # type: ignore[no-untyped-def]
    from triage.engines.embedder import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, embedder) -> tuple[Path, list[LabelledText]]:  # type: ignore[no-untyped-def]
    train, test = _slice()
    out = tmp_path_factory.mktemp("model")
    train_classifier(train, embedder, out, progress=False, recipe=QUICK)
    return out, test


def test_trained_model_predicts_and_evaluates(trained, embedder) -> None:  # type: ignore[no-untyped-def]
    model_dir, test = trained
    classifier = load_classifier(model_dir, embedder)
    assert classifier.metadata["rows"] == 600 and len(classifier.labels) == LABELS
    result = evaluate(classifier, test)
    assert result["n"] == len(test)
    assert result["accuracy"] > 0.8
    assert 0.0 <= result["ece"] < 0.15
    assert set(result["coverage_at_precision"]) == {"0.95", "0.99"}
    assert set(result["per_class"]) <= set(classifier.labels)
    # the fine-tuned encoder member was trained and scored on the held-out fold; stored only when it has weight
    assert classifier.metadata["metrics"]["cv_member_accuracy"]["tuned"] > 0.7
    tuned_weight = classifier.metadata["calibration"]["weights"]["tuned"]
    record = classifier.metadata["tuned_encoder"]
    assert (record is not None) == (tuned_weight > 0)
    cv = classifier.metadata["metrics"]["cv"]
    assert cv["n"] == 600 // QUICK.folds and cv["accuracy"] > 0.7  # one held-out fold
    assert classifier.metadata["recipe"]["tune_encoder"] is True


def test_without_encoder_tuning_the_frozen_ensemble_is_trained(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    train, test = _slice()
    meta = train_classifier(train, embedder, tmp_path / "m", progress=False, recipe=QUICK, tune_encoder=False)
    assert meta["recipe"]["tune_encoder"] is False
    assert meta["recipe"]["members"] == ["embedding", "char", "word", "knn"]
    assert meta["tuned_encoder"] is None and meta["calibration"]["weights"]["tuned"] == 0
    assert "tuned" not in meta["metrics"]["cv_member_accuracy"]
    classifier = load_classifier(tmp_path / "m", embedder)
    assert evaluate(classifier, test)["accuracy"] > 0.8
    # novelty: a threshold fitted on the held-out rows, checked against them and their perturbed copies
    novelty = meta["novelty"]
    assert 0 < novelty["threshold"] < 1 and novelty["held_out"]["novel_share"] <= 0.05
    assert novelty["shifted"]["novel_share"] >= novelty["held_out"]["novel_share"]
    assert meta["metrics"]["cv_shifted"]["n"] == meta["metrics"]["cv"]["n"]
    familiar, foreign = classifier.predict(
        [train[0].text, "Quarterly minutes of the garden club: the roses and the new compost bins"]
    )
    assert familiar.novelty is not None and not familiar.novel
    assert foreign.novelty is not None and foreign.novel and foreign.novelty > familiar.novelty
    assert foreign.novelty_threshold == novelty["threshold"]


def test_cli_predict_and_eval(trained, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    from triage.commands.ml import run_predict

    model_dir, test = trained
    data = tmp_path / "test.csv"
    with data.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows([r.text, r.label] for r in test[:50])
    code = run_predict(
        argparse.Namespace(model=str(model_dir), texts=["I still have not got my card"], data=None)
    )
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0 and len(out) == 1
    record = json.loads(out[0])
    assert set(record) == {"text", "label", "confidence", "alternatives", "novelty", "novel"}
    assert record["alternatives"][0]["label"] == record["label"] and len(record["alternatives"]) == 3

    report = tmp_path / "report.html"
    result_path = tmp_path / "result.json"
    from triage.cli import main

    command = ["eval", "classify", "--model", str(model_dir), "--data", str(data)]
    assert main([*command, "--json", str(result_path), "--report", str(report)]) == 0
    result = json.loads(result_path.read_text())
    assert result["n"] == 50 and 0.0 <= result["accuracy"] <= 1.0
    page = report.read_text()
    assert "<svg" in page and "eliability" in page
    assert not re.search(r"""(src|href)\s*=\s*["']https?://""", page), (
        "the report loads something from the network"
    )


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from triage.commands.ml import run_predict, run_train

    one_class = tmp_path / "one.csv"
    one_class.write_text("text,label\n" + "".join(f"row {i},same\n" for i in range(10)))
    args = argparse.Namespace(
        data=str(one_class), out=str(tmp_path / "m"), text_col="text", label_col="label", seed=0
    )
    assert run_train(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: need at least two labels") and "Traceback" not in "".join(err)

    missing = tmp_path / "missing.csv"
    missing.write_text("body,label\nhello,a\n")
    assert run_train(argparse.Namespace(**{**vars(args), "data": str(missing)})) == 2
    assert "missing column 'text'" in capsys.readouterr().err

    assert run_predict(argparse.Namespace(model=str(tmp_path / "nowhere"), texts=["hi"], data=None)) == 2
    assert "not a classifier artifact" in capsys.readouterr().err


def test_empty_text_in_a_file_is_invalid_input(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("text,label\nhello,a\n ,b\n")
    with pytest.raises(InvalidInput, match="empty text"):
        load_labelled(path)
