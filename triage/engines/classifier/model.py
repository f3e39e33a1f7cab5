"""The served classifier: an ensemble of two linear heads, temperature-scaled.

Members (both see the same training rows plus one noisy copy of each, see ``augment``):

* ``embedding``: multinomial logistic regression on the frozen sentence embedding (meaning, paraphrase).
* ``char``: multinomial logistic regression on TF-IDF of character 2-5-grams within words (spelling
  variants, typos, keywords the encoder blurs).

Their log-probabilities are mixed with a weight and divided by a temperature, both fitted on held-out folds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import log_softmax, softmax

from triage.core.errors import InvalidInput

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix
    from sklearn.feature_extraction.text import TfidfVectorizer

    from triage.engines.embedder import Embedder

CHAR_NGRAM_RANGE = (2, 5)
TOP_K = 3


@dataclass(frozen=True)
class Alternative:
    label: str
    confidence: float


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float
    alternatives: list[Alternative]
    """The top three labels, the predicted one first, by descending confidence."""


@dataclass(frozen=True)
class LinearHead:
    coef: NDArray[np.float32]
    intercept: NDArray[np.float32]

    def log_proba(self, features: NDArray[np.float32] | csr_matrix) -> NDArray[np.float64]:
        logits = features @ self.coef.T + self.intercept
        return np.asarray(log_softmax(np.asarray(logits, dtype=np.float64), axis=1))


@dataclass(frozen=True)
class Ensemble:
    embedding_head: LinearHead
    char_head: LinearHead
    char_vectorizer: TfidfVectorizer
    char_weight: float
    temperature: float

    def combined_log_proba(self, embeddings: NDArray[np.float32], texts: list[str]) -> NDArray[np.float64]:
        """Uncalibrated mixture score (divide by ``temperature`` before the softmax)."""
        emb = self.embedding_head.log_proba(embeddings)
        char = self.char_head.log_proba(self.char_vectorizer.transform(texts))
        return (1.0 - self.char_weight) * emb + self.char_weight * char

    def proba(self, embeddings: NDArray[np.float32], texts: list[str]) -> NDArray[np.float64]:
        return np.asarray(softmax(self.combined_log_proba(embeddings, texts) / self.temperature, axis=1))


def new_char_vectorizer(max_features: int | None = None) -> TfidfVectorizer:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=CHAR_NGRAM_RANGE,
        lowercase=True,
        sublinear_tf=True,
        min_df=2,
        max_features=max_features,
        dtype=np.float32,
    )


def restore_char_vectorizer(vocabulary: list[str], idf: NDArray[np.float32]) -> TfidfVectorizer:
    """A fitted vectorizer rebuilt from plain data (no pickle)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=CHAR_NGRAM_RANGE,
        lowercase=True,
        sublinear_tf=True,
        vocabulary={gram: i for i, gram in enumerate(vocabulary)},
        dtype=np.float32,
    )
    vectorizer.idf_ = np.asarray(idf, dtype=np.float64)
    return vectorizer


def char_vocabulary(vectorizer: TfidfVectorizer) -> list[str]:
    vocab: dict[str, int] = vectorizer.vocabulary_
    ordered = [""] * len(vocab)
    for gram, i in vocab.items():
        ordered[i] = gram
    return ordered


def top_predictions(proba: NDArray[np.float64], labels: list[str]) -> list[Prediction]:
    k = min(TOP_K, len(labels))
    order = np.argsort(-proba, axis=1, kind="stable")[:, :k]
    out = []
    for row, idx in zip(proba, order, strict=True):
        alternatives = [Alternative(labels[i], float(row[i])) for i in idx]
        out.append(Prediction(alternatives[0].label, alternatives[0].confidence, alternatives))
    return out


class TextClassifier:
    """A loaded artifact bound to the embedder it was trained with. ``predict`` is safe from several threads."""

    def __init__(self, ensemble: Ensemble, embedder: Embedder, metadata: dict[str, Any]) -> None:
        self._ensemble = ensemble
        self._embedder = embedder
        self.metadata = metadata
        self.version: str = metadata["version"]
        self.labels: list[str] = list(metadata["labels"])
        self.embedding_model_id: str = metadata["embedding_model"]

    def predict_proba(self, texts: list[str]) -> NDArray[np.float64]:
        """Calibrated probabilities, one row per text, columns in ``labels`` order."""
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise InvalidInput("texts must be a list of strings")
        if not texts:
            return np.zeros((0, len(self.labels)))
        if any(not t.strip() for t in texts):
            raise InvalidInput("cannot classify an empty text")
        return self._ensemble.proba(self._embedder.embed(texts), texts)

    def predict(self, texts: list[str]) -> list[Prediction]:
        return top_predictions(self.predict_proba(texts), self.labels)
