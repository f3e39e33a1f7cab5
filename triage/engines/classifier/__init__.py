"""Text classification: train an artifact, load it against an embedder, predict and evaluate.

``load_classifier`` refuses an artifact whose files changed since training or that was trained on another
embedding model (``ArtifactError``); ``train_classifier`` refuses data it cannot learn from (``InvalidInput``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from triage.core.errors import ArtifactError
from triage.engines.classifier.artifact import read_artifact
from triage.engines.classifier.metrics import classification_metrics
from triage.engines.classifier.model import (
    MEMBERS,
    TEXT_MEMBERS,
    TUNED_MEMBERS,
    Alternative,
    Ensemble,
    LinearHead,
    NeighbourHead,
    Prediction,
    TextClassifier,
    restore_vectorizer,
)
from triage.engines.classifier.novelty import NoveltyScorer
from triage.engines.classifier.training import Recipe, train_classifier

if TYPE_CHECKING:
    from triage.engines.datasets import LabelledText
    from triage.engines.embedder import Embedder

__all__ = [
    "Alternative",
    "Prediction",
    "Recipe",
    "TextClassifier",
    "evaluate",
    "load_classifier",
    "train_classifier",
]

EVALUATE_BATCH = 256


def load_classifier(model_dir: Path, embedder: Embedder) -> TextClassifier:
    """Load and verify the artifact in ``model_dir`` for use with ``embedder``."""
    metadata, tensors, vocabulary = read_artifact(model_dir)
    if metadata.get("embedding_model") != embedder.model_id:
        raise ArtifactError(
            f"{model_dir}: trained on embedding model {metadata.get('embedding_model')!r}, "
            f"but the service embeds with {embedder.model_id!r}; retrain or set TRIAGE_EMBEDDING_MODEL"
        )
    if metadata.get("embedding_dimension") != embedder.dimension:
        raise ArtifactError(
            f"{model_dir}: expects {metadata.get('embedding_dimension')}-dimensional embeddings, "
            f"the embedder gives {embedder.dimension}"
        )
    try:
        calibration = metadata["calibration"]
        n_labels = len(metadata["labels"])
        weights = {name: float(w) for name, w in calibration["weights"].items() if float(w) > 0}
        if not weights or not set(weights) <= set(MEMBERS):
            raise ValueError(f"member weights {calibration['weights']!r}")
        heads: dict[str, LinearHead | NeighbourHead] = {}
        for name in weights:
            if name == "knn":
                bank, bank_labels = tensors["knn.bank"], tensors["knn.labels"].astype(np.int64)
                if bank.shape != (len(bank_labels), embedder.dimension) or not (
                    bank_labels.min() >= 0 and bank_labels.max() < n_labels
                ):
                    raise ValueError("knn bank shape or labels")
                knn = calibration["knn"]
                heads[name] = NeighbourHead(
                    bank, bank_labels, n_labels, int(knn["k"]), float(knn["temperature"])
                )
            else:
                heads[name] = LinearHead(tensors[f"{name}.coef"], tensors[f"{name}.intercept"])
        tuned_embedder = None
        if any(name in TUNED_MEMBERS for name in weights):
            tuned_embedder = _tuned_embedder(model_dir, embedder, tensors, metadata)
        vectorizers = {
            name: restore_vectorizer(name, vocabulary[name], tensors[f"{name}.idf"])
            for name in weights
            if name in TEXT_MEMBERS
        }
        ensemble = Ensemble(heads, vectorizers, weights, float(calibration["temperature"]))
        widths = {name: len(vocabulary[name]) for name in vectorizers} | dict.fromkeys(
            ("embedding", *TUNED_MEMBERS), embedder.dimension
        )
        novelty = _novelty(tensors, metadata, embedder.dimension)
        shapes_ok = all(
            head.coef.shape == (n_labels, widths[name])
            for name, head in heads.items()
            if isinstance(head, LinearHead)
        ) and all(tensors[f"{name}.idf"].shape == (widths[name],) for name in vectorizers)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ArtifactError(f"{model_dir}: incomplete artifact ({exc!r} missing or invalid)") from exc
    if not shapes_ok:
        raise ArtifactError(
            f"{model_dir}: weight shapes do not match the labels and vocabulary in metadata.json"
        )
    return TextClassifier(ensemble, embedder, metadata, tuned_embedder, novelty)


def _novelty(tensors: dict[str, Any], metadata: dict[str, Any], dimension: int) -> NoveltyScorer | None:
    """The artifact's novelty scorer; None for an artifact trained before novelty was recorded."""
    record = metadata.get("novelty")
    if record is None:
        return None
    bank = tensors["novelty.bank"]
    if bank.ndim != 2 or bank.shape[1] != dimension or len(bank) == 0:
        raise ValueError("novelty bank shape")
    return NoveltyScorer(bank, int(record["k"]), float(record["threshold"]))


def _tuned_embedder(
    model_dir: Path, embedder: Embedder, tensors: dict[str, Any], metadata: dict[str, Any]
) -> Embedder:
    """The artifact's tuned encoder: its tensors laid over a copy of the served embedder's model."""
    from triage.engines.tuning import PREFIX, TunedEmbedder, sentence_model, tensors_digest

    base = sentence_model(embedder)
    if base is None:
        raise ArtifactError(
            f"{model_dir}: has a fine-tuned encoder member, which needs a sentence-transformers embedder"
        )
    encoder = {name: value for name, value in tensors.items() if name.startswith(PREFIX)}
    digest = tensors_digest(encoder)
    if digest != (metadata.get("tuned_encoder") or {}).get("digest"):
        raise ArtifactError(f"{model_dir}: the tuned encoder's tensors do not match metadata.json")
    return TunedEmbedder(base, encoder, model_id=f"{metadata['embedding_model']}+tuned:{digest}")


def evaluate(classifier: TextClassifier, rows: list[LabelledText]) -> dict[str, Any]:
    """Contract metrics of ``classifier`` on labelled ``rows`` (see ``metrics.classification_metrics``)."""
    predictions = []
    for start in range(0, len(rows), EVALUATE_BATCH):
        predictions.extend(classifier.predict([row.text for row in rows[start : start + EVALUATE_BATCH]]))
    result = classification_metrics(
        [row.label for row in rows], [p.label for p in predictions], [p.confidence for p in predictions]
    )
    result["model_version"] = classifier.version
    result["unknown_labels"] = sorted({row.label for row in rows} - set(classifier.labels))
    return result
