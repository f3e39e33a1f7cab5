"""The int8 ONNX encoder: exported from the real MiniLM into an artifact folder, verified at load, close to the
float model, and independent of the texts it is batched with."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from triage.config import Settings
from triage.core.errors import ArtifactError
from triage.engines.embedder import SentenceTransformerEmbedder, serving_embedder
from triage.engines.onnx_encoder import MANIFEST_FILE, ONNX_FILE, OnnxEmbedder, export_onnx_encoder

pytestmark = pytest.mark.slow

TEXTS = [
    "WMS: [INV-SHORT] Cycle count adjustment left SKU short, allocation failed at DC",
    "ERP: Customer exceeded credit limit, order placed on credit hold",
    "TMS: ETA slipped for PRO 3131171702: missed connection at hub. In transit.",
    "Invoice price differs from contract price on line 1",
]


@pytest.fixture(scope="module")
def torch_embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory, torch_embedder: SentenceTransformerEmbedder) -> Path:
    folder = tmp_path_factory.mktemp("artifact")
    manifest = export_onnx_encoder(folder, torch_embedder)
    assert manifest is not None and manifest["embedding_model"] == torch_embedder.model_id
    return folder


def test_int8_vectors_are_close_to_the_float_models(
    model_dir: Path, torch_embedder: SentenceTransformerEmbedder
) -> None:
    onnx = OnnxEmbedder(model_dir)
    assert (onnx.model_id, onnx.dimension) == (torch_embedder.model_id, torch_embedder.dimension)
    quantized, reference = onnx.embed(TEXTS), torch_embedder.embed(TEXTS)
    assert np.allclose(np.linalg.norm(quantized, axis=1), 1.0, atol=1e-4)
    cosines = np.sum(quantized * reference, axis=1)
    assert cosines.min() > 0.95
    # nearest text by text: the int8 space keeps the float space's neighbours
    assert np.array_equal(np.argsort(-(quantized @ reference.T), axis=1)[:, 0], np.arange(len(TEXTS)))


def test_a_texts_vector_does_not_depend_on_its_batch(model_dir: Path) -> None:
    onnx = OnnxEmbedder(model_dir)
    alone = onnx.embed([TEXTS[0]])
    together = onnx.embed([TEXTS[0], TEXTS[1] * 5])
    assert np.array_equal(alone[0], together[0])
    assert onnx.count_tokens(TEXTS[0]) > 10


def test_a_modified_or_missing_export_is_refused(model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="no int8 ONNX encoder"):
        OnnxEmbedder(tmp_path)
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in model_dir.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    manifest = json.loads((copy / MANIFEST_FILE).read_text())
    manifest["files"][ONNX_FILE] = "0" * 64
    (copy / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="modified"):
        OnnxEmbedder(copy)


def test_the_setting_serves_the_artifacts_int8_encoder(model_dir: Path, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, model_dir=model_dir, encoder_backend="onnx-int8")
    served = serving_embedder(settings)
    try:
        vectors = served.embed(TEXTS[:2])
    finally:
        served.inner.close()  # type: ignore[attr-defined]
    assert np.array_equal(vectors, OnnxEmbedder(model_dir).embed(TEXTS[:2]))
