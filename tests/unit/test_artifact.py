"""Artifact round-trip, tamper refusal and embedding-model refusal, with a tiny fake embedder."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from triage.core.errors import ArtifactError, InvalidInput
from triage.engines.classifier import Recipe, load_classifier, train_classifier
from triage.engines.datasets import LabelledText

TINY = Recipe(folds=2, char_max_features=500, max_iter=100)


class FakeEmbedder:
    """Deterministic bag-of-words hashing into 16 dimensions, unit rows."""

    dimension = 16

    def __init__(self, model_id: str = "fake/bag-of-words") -> None:
        self.model_id = model_id

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                out[i, int(hashlib.sha256(word.encode()).hexdigest(), 16) % self.dimension] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)


def _rows() -> list[LabelledText]:
    topics = {
        "refund": [
            "I want my money back",
            "refund my order please",
            "where is my refund",
            "return and refund",
        ],
        "delivery": [
            "where is my parcel",
            "delivery is late",
            "track my shipment",
            "my package did not arrive",
        ],
        "account": ["reset my password", "cannot log in", "delete my account", "change my email address"],
    }
    return [
        LabelledText(text=f"{t} {suffix}", label=label)
        for label, texts in topics.items()
        for t in texts
        for suffix in ("", "now", "today")
    ]


@pytest.fixture
def artifact(tmp_path: Path) -> Path:
    out = tmp_path / "model"
    train_classifier(_rows(), FakeEmbedder(), out, progress=False, recipe=TINY)
    return out


def test_round_trip_predicts_the_same_and_records_metadata(artifact: Path) -> None:
    classifier = load_classifier(artifact, FakeEmbedder())
    again = load_classifier(artifact, FakeEmbedder())
    texts = ["refund my order please", "track my shipment"]
    first, second = classifier.predict(texts), again.predict(texts)
    assert first == second
    assert [p.label for p in first] == ["refund", "delivery"]
    top = first[0]
    assert len(top.alternatives) == 3 and top.alternatives[0].label == top.label
    assert [a.confidence for a in top.alternatives] == sorted(
        (a.confidence for a in top.alternatives), reverse=True
    )
    meta = classifier.metadata
    assert classifier.version == meta["version"] and len(meta["version"]) == 64
    assert meta["embedding_model"] == "fake/bag-of-words" and meta["embedding_dimension"] == 16
    assert classifier.labels == ["account", "delivery", "refund"]
    assert meta["rows"] == 36 and meta["calibration"]["temperature"] > 0
    assert {"training_data_sha256", "metrics", "recipe", "created_at", "training_seconds"} <= set(meta)


def test_no_pickle_in_the_artifact(artifact: Path) -> None:
    assert sorted(p.name for p in artifact.iterdir()) == [
        "metadata.json",
        "vocabulary.json",
        "weights.safetensors",
    ]


def test_flipped_byte_in_weights_is_refused(artifact: Path) -> None:
    weights = artifact / "weights.safetensors"
    data = bytearray(weights.read_bytes())
    data[-5] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=r"weights\.safetensors"):
        load_classifier(artifact, FakeEmbedder())


def test_edited_metadata_is_refused(artifact: Path) -> None:
    path = artifact / "metadata.json"
    meta = json.loads(path.read_text())
    meta["calibration"]["temperature"] = 0.01
    path.write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match=r"metadata\.json"):
        load_classifier(artifact, FakeEmbedder())


def test_another_embedding_model_is_refused(artifact: Path) -> None:
    with pytest.raises(ArtifactError, match="fake/other-model"):
        load_classifier(artifact, FakeEmbedder("fake/other-model"))


def test_missing_artifact_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="not a classifier artifact"):
        load_classifier(tmp_path, FakeEmbedder())


def test_one_class_data_is_refused(tmp_path: Path) -> None:
    rows = [LabelledText(text=f"text {i}", label="only") for i in range(10)]
    with pytest.raises(InvalidInput, match="at least two labels"):
        train_classifier(rows, FakeEmbedder(), tmp_path / "m", progress=False, recipe=TINY)


def test_too_few_rows_per_class_is_refused(tmp_path: Path) -> None:
    rows = [*_rows(), LabelledText(text="a rare thing", label="rare")]
    with pytest.raises(InvalidInput, match="'rare' \\(1\\)"):
        train_classifier(rows, FakeEmbedder(), tmp_path / "m", progress=False, recipe=TINY)


def test_empty_text_is_refused_in_training_and_prediction(tmp_path: Path, artifact: Path) -> None:
    rows = [*_rows(), LabelledText(text="   ", label="refund")]
    with pytest.raises(InvalidInput, match="empty text"):
        train_classifier(rows, FakeEmbedder(), tmp_path / "m", progress=False, recipe=TINY)
    with pytest.raises(InvalidInput, match="empty text"):
        load_classifier(artifact, FakeEmbedder()).predict(["ok", ""])
