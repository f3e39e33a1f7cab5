"""``triage bootstrap`` on a fresh home (a slice of the shipped history): keys first, no encoder tuning, a model
that loads, a history collection in the embedder's own space, and a second run that changes nothing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from triage.config import Settings
from triage.engines.classifier import load_classifier
from triage.engines.embedder import SentenceTransformerEmbedder
from triage.engines.retrieval import open_case_store, vectors_for

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_HISTORY = ROOT / "eval" / "datasets" / "order_exceptions" / "history.jsonl"
STRIDE = 12
ROLES = ("WORKFLOW", "AGENT", "SUPERVISOR", "COMPLIANCE", "ADMIN")
EXPORT = re.compile(r"export (?P<role>[A-Z]+)_KEY=(?P<key>\S+)")


def bootstrap(home: Path, history: Path) -> subprocess.CompletedProcess[str]:
    """The real command in its own process, stderr merged into stdout so their order is what a user sees."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("TRIAGE_")}
    environment |= {
        "TRIAGE_HOME": str(home),
        "TRIAGE_HISTORY_FILE": str(history),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    script = "import sys; from triage.cli import main; sys.exit(main(['bootstrap']))"
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    folder = tmp_path_factory.mktemp("bootstrap")
    history = folder / "history.jsonl"
    lines = SHIPPED_HISTORY.read_text(encoding="utf-8").splitlines(keepends=True)
    history.write_text("".join(lines[::STRIDE]), encoding="utf-8")
    done = bootstrap(folder / "home", history)
    assert done.returncode == 0, done.stdout
    return folder / "home", history, done.stdout


def test_keys_come_first_as_shell_exports(first_run: tuple[Path, Path, str]) -> None:
    _, _, output = first_run
    lines = output.splitlines()
    exports = [i for i, line in enumerate(lines) if EXPORT.fullmatch(line)]
    assert [EXPORT.fullmatch(lines[i])["role"] for i in exports] == list(ROLES)  # type: ignore[index]
    assert exports == list(range(exports[0], exports[0] + len(ROLES)))
    training = next(i for i, line in enumerate(lines) if line.startswith("model: training"))
    assert exports[-1] < training  # before the slow part
    assert all(line.startswith("#") or "done in" in line for line in lines[: exports[0]])


def test_every_step_reports_its_duration(first_run: tuple[Path, Path, str]) -> None:
    _, _, output = first_run
    for step in ("database", "keys", "policy", "embedding model", "model", "history"):
        assert re.search(rf"^{step}: done in \d+\.\d s$", output, re.MULTILINE), step
    assert re.search(r"^  embedding \d+ texts .*: done in", output, re.MULTILINE)  # a training step, nested
    assert re.search(r"^bootstrap done in .*5 keys created$", output, re.MULTILINE)


def test_no_encoder_is_tuned_and_the_model_and_collection_work(first_run: tuple[Path, Path, str]) -> None:
    home, history, output = first_run
    assert "fine-tuning" not in output
    assert not list(home.rglob("*.encoder.safetensors"))
    embedder = SentenceTransformerEmbedder()
    classifier = load_classifier(home / "models" / "default", embedder)
    meta = classifier.metadata
    assert meta["recipe"]["tune_encoder"] is False and "tuned" not in meta["recipe"]["members"]
    assert meta["tuned_encoder"] is None and meta["calibration"]["weights"]["tuned"] == 0
    assert meta["rows"] == len(history.read_text(encoding="utf-8").splitlines())
    [prediction] = classifier.predict(["Carrier missed the pickup window, delivery two days late"])
    assert prediction.label == "shipment_delay"

    store = open_case_store(
        Settings(home=home, qdrant_url=None),
        embedding_model_id=embedder.model_id,
        dimension=embedder.dimension,
    )
    try:
        assert store.model_id == embedder.model_id  # the frozen space: nothing learnt
        assert store.count() == meta["rows"]
        text = "Credit limit exceeded, order on credit hold"
        assert (vectors_for(store, embedder, [text]) == embedder.embed([text])).all()
        assert store.search(embedder.embed([text])[0], k=1)[0].label == "credit_hold"
    finally:
        store.close()


def test_a_second_run_keeps_everything(first_run: tuple[Path, Path, str]) -> None:
    home, history, _ = first_run
    again = bootstrap(home, history)
    assert again.returncode == 0, again.stdout
    assert not EXPORT.search(again.stdout) and "already has keys" in again.stdout
    assert "exists and loads, kept" in again.stdout
    assert "model kept, 0 cases indexed, 0 keys created" in again.stdout
