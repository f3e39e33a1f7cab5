"""``triage eval retrieve`` and ``triage index`` on a BANKING77 slice: real MiniLM, embedded Qdrant."""

from __future__ import annotations

import argparse
import csv
import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from triage.commands import retrieval as commands
from triage.config import get_settings
from triage.engines.embedder import SentenceTransformerEmbedder
from triage.engines.retrieval import open_case_store

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
BANKING77 = DATASETS / "banking77" / "train.csv"
LABELS = 6
HISTORY_PER_LABEL = 20
QUERIES_PER_LABEL = 4

pytestmark = [
    pytest.mark.datasets,
    pytest.mark.skipif(not BANKING77.is_file(), reason=f"BANKING77 not found at {BANKING77}"),
]


@pytest.fixture(scope="module")
def embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder()


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small stratified slice: first rows of a few labels as history, their last rows as queries."""
    by_label: dict[str, list[dict[str, str]]] = defaultdict(list)
    with BANKING77.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            by_label[row["label"]].append({"text": row["text"], "label": row["label"]})
    chosen = sorted(by_label)[:LABELS]
    folder = tmp_path_factory.mktemp("banking77")
    history, queries = folder / "history.csv", folder / "queries.csv"
    for path, rows in (
        (history, [r for label in chosen for r in by_label[label][:HISTORY_PER_LABEL]]),
        (queries, [r for label in chosen for r in by_label[label][-QUERIES_PER_LABEL:]]),
    ):
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["text", "label"])
            writer.writeheader()
            writer.writerows(rows)
    return history, queries


@pytest.fixture
def home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedder: SentenceTransformerEmbedder
) -> Iterator[Path]:
    monkeypatch.setenv("TRIAGE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TRIAGE_QDRANT_URL", raising=False)
    monkeypatch.setattr(commands, "_embedder", lambda settings: embedder)
    get_settings.cache_clear()
    yield tmp_path / "home"
    get_settings.cache_clear()


def test_eval_retrieve_reports_the_contract_metrics(
    home: Path, split: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history, queries = split
    out = tmp_path / "report" / "retrieve.json"
    args = argparse.Namespace(
        history=history, data=queries, k=5, json=out, text_col="text", label_col="label"
    )
    assert commands.run_eval_retrieve(args) == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["n"] == LABELS * QUERIES_PER_LABEL and result["k"] == 5
    assert result["history"] == LABELS * HISTORY_PER_LABEL and result["store"] == "local"
    # the space was learnt from the history: the encoder tuned on it
    assert result["vector_space"].startswith(f"{result['embedding_model']}+tuned:")
    assert 0.6 <= result["precision_at_k"] <= result["hit_rate_at_k"] <= 1.0
    assert result["hit_rate_at_k"] >= 0.85
    assert 0.0 < result["mrr"] <= result["hit_rate_at_k"]
    assert 0.0 < result["latency_ms"]["p50"] <= result["latency_ms"]["p99"]
    assert "precision@k=" in capsys.readouterr().out
    assert not (home / "qdrant").exists()  # the throw-away collection never touches the configured store


def test_eval_retrieve_refuses_bad_input_with_exit_2(
    home: Path, split: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = argparse.Namespace(
        history=tmp_path / "missing.csv", data=split[1], k=5, json=None, text_col="text", label_col="label"
    )
    assert commands.run_eval_retrieve(args) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_index_is_resumable_and_bootstrap_fills_only_an_empty_store(
    home: Path,
    split: tuple[Path, Path],
    embedder: SentenceTransformerEmbedder,
    capsys: pytest.CaptureFixture[str],
) -> None:
    history, queries = split
    args = argparse.Namespace(data=history, text_col="text", label_col="label", batch_size=64)
    assert commands.run_index(args) == 0
    assert f"indexed {LABELS * HISTORY_PER_LABEL} cases (0 already present)" in capsys.readouterr().out
    assert commands.run_index(args) == 0
    assert f"indexed 0 cases ({LABELS * HISTORY_PER_LABEL} already present)" in capsys.readouterr().out

    settings = get_settings().model_copy(update={"history_file": history})
    store = open_case_store(settings, embedding_model_id=embedder.model_id, dimension=embedder.dimension)
    try:
        assert commands.bootstrap_history(settings, embedder, store) == 0  # not empty: left alone
        assert store.count() == LABELS * HISTORY_PER_LABEL
    finally:
        store.close()

    fresh = settings.model_copy(update={"qdrant_collection": "fresh", "history_file": queries})
    store = open_case_store(fresh, embedding_model_id=embedder.model_id, dimension=embedder.dimension)
    try:
        assert commands.bootstrap_history(fresh, embedder, store) == LABELS * QUERIES_PER_LABEL
        assert store.model_id == embedder.model_id  # bootstrap indexes in the frozen space, nothing is tuned
    finally:
        store.close()
    assert not list(home.glob("projections/*-fresh.*"))
