"""The encoder on ONNX Runtime with int8 weights: exported at train time into the artifact, served on request.

``export_onnx_encoder`` writes the served sentence-transformers model's transformer as ONNX (``torch.onnx``),
quantizes its matrix products to int8 with ONNX Runtime's dynamic quantization (weights per channel, activations
quantized on the fly: no calibration data), and stores the result with the tokenizer and a manifest beside
the classifier's files::

    encoder-int8.onnx   the quantized transformer (last hidden state)
    tokenizer.json      the model's tokenizer
    onnx.json           the embedding model it was exported from, the files' sha256, the pooling

``OnnxEmbedder`` embeds like the ``SentenceTransformer`` it came from (mean pooling over the attention mask,
then L2 normalisation) without importing torch. Its vectors differ slightly from the float model's (cosine
about 0.99), so its model id stays the model's: collections and artifacts made by either backend serve both.
(sentence-transformers' own ``export_dynamic_quantized_onnx_model`` needs optimum-onnx, which requires
transformers < 4.58 while sentence-transformers 6 requires transformers 5: the same two steps are done here
with torch's exporter and ``onnxruntime.quantization.quantize_dynamic``.)
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from triage.core.errors import ArtifactError
from triage.core.hashing import sha256_file

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from triage.engines.embedder import Embedder

ONNX_FILE = "encoder-int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
MANIFEST_FILE = "onnx.json"
OPSET = 17
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def export_onnx_encoder(model_dir: Path, embedder: Embedder) -> dict[str, Any] | None:
    """Export ``embedder``'s model into ``model_dir`` as int8 ONNX; its manifest, or ``None`` when the
    embedder is not a sentence-transformers model (then only the default backend serves that artifact)."""
    from triage.engines.tuning import sentence_model

    base = sentence_model(embedder)
    backend_tokenizer = getattr(getattr(base, "tokenizer", None), "backend_tokenizer", None)
    if base is None or backend_tokenizer is None:
        return None
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="triage-onnx-") as tmp:
        float_file = Path(tmp) / "encoder.onnx"
        _export_float(base, float_file)
        quantized = Path(tmp) / ONNX_FILE
        logging.disable(logging.WARNING)  # its advice to run shape pre-processing first: not needed here
        try:
            quantize_dynamic(
                float_file,
                quantized,
                weight_type=QuantType.QInt8,
                per_channel=True,
                op_types_to_quantize=["MatMul"],
            )
        finally:
            logging.disable(logging.NOTSET)
        shutil.copyfile(quantized, model_dir / ONNX_FILE)
    backend_tokenizer.save(str(model_dir / TOKENIZER_FILE))
    manifest = {
        "embedding_model": embedder.model_id,
        "dimension": embedder.dimension,
        "max_tokens": int(base.max_seq_length),
        "pooling": "mean",
        "quantization": "dynamic int8, weights per channel, MatMul",
        "opset": OPSET,
        "files": {name: sha256_file(model_dir / name) for name in (ONNX_FILE, TOKENIZER_FILE)},
    }
    (model_dir / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def _export_float(base: Any, path: Path) -> None:
    import torch

    transformer = base[0].auto_model.eval()

    class LastHiddenState(torch.nn.Module):
        """Keyword arguments only: transformers 5 moved the positional order of ``BertModel.forward``."""

        def __init__(self) -> None:
            super().__init__()
            self.inner = transformer

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    sample = base.tokenizer(["an order exception", "a longer sample text"], padding=True, return_tensors="pt")
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "last_hidden_state")}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter(
            "ignore"
        )  # the tracer's notes on shape-dependent Python branches (checked in tests)
        torch.onnx.export(
            LastHiddenState(),
            tuple(sample[name] for name in INPUTS),
            str(path),
            input_names=list(INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )


def read_manifest(model_dir: Path) -> dict[str, Any] | None:
    """The artifact's ONNX manifest, its files checked against their hashes; ``None`` when it has none."""
    path = model_dir / MANIFEST_FILE
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        files = dict(manifest["files"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(f"{path}: unreadable ONNX manifest ({exc})") from exc
    for name, digest in files.items():
        if not (model_dir / name).is_file() or sha256_file(model_dir / name) != digest:
            raise ArtifactError(f"{model_dir / name}: missing or modified after export")
    return dict(manifest)


class OnnxEmbedder:
    """An ``Embedder`` over the artifact's int8 encoder on ONNX Runtime (no torch)."""

    def __init__(self, model_dir: Path, *, threads: int = 1) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        manifest = read_manifest(model_dir)
        if manifest is None:
            raise ArtifactError(
                f"{model_dir}: has no int8 ONNX encoder ({MANIFEST_FILE}); retrain the model, or serve with "
                "TRIAGE_ENCODER_BACKEND=torch"
            )
        self.model_id: str = manifest["embedding_model"]
        self.dimension = int(manifest["dimension"])
        self.max_tokens = int(manifest["max_tokens"])
        self._tokenizer = Tokenizer.from_file(str(model_dir / TOKENIZER_FILE))
        self._tokenizer.enable_truncation(max_length=self.max_tokens)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # Spinning worker threads burn the other engineers' (and the other stages') core while idle.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(model_dir / ONNX_FILE), options, providers=["CPUExecutionProvider"]
        )
        self._lock = threading.Lock()

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer.encode(text).ids)

    def embed(self, texts: list[str]) -> NDArray[np.float32]:
        # One text per run: int8 activations are quantized with one scale per tensor, so in a padded batch a
        # text's vector would depend on the texts beside it. On CPU a batch saves little anyway.
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            out[row] = self._pass([text])[0]
        return out

    def _pass(self, texts: list[str]) -> NDArray[np.float32]:
        encoded = self._tokenizer.encode_batch(texts)
        feeds = {
            "input_ids": np.asarray([e.ids for e in encoded], dtype=np.int64),
            "attention_mask": np.asarray([e.attention_mask for e in encoded], dtype=np.int64),
            "token_type_ids": np.asarray([e.type_ids for e in encoded], dtype=np.int64),
        }
        with self._lock:
            hidden = self._session.run(None, feeds)[0]
        mask = feeds["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.asarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)
