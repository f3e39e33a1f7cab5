"""The served classifier: an ensemble of linear heads, mixed in log-probability space and temperature-scaled.

Members (all see the same training rows plus one noisy copy of each, see ``augment``):

* ``embedding``: multinomial logistic regression on the frozen sentence embedding (meaning, paraphrase).
* ``char``: multinomial logistic regression on TF-IDF of character 2-5-grams within words (spelling
  variants, typos, keywords the encoder blurs).
* ``word``: multinomial logistic regression on TF-IDF of word unigrams and bigrams (exact keywords).
* ``knn``: a soft k-nearest-neighbour vote over the training embeddings (local structure a linear head misses).
* ``tuned``: multinomial logistic regression on the embedding of an encoder fine-tuned on the training rows
  (``triage.engines.tuning``): the frozen space knows nothing of our labels, the tuned one separates them.

Their log-probabilities are mixed with weights and divided by a temperature, both fitted on held-out rows.
A member whose weight is zero is neither trained in the final model nor stored.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import log_softmax, softmax

from triage.core.errors import InvalidInput

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix
    from sklearn.feature_extraction.text import TfidfVectorizer

    from triage.engines.classifier.novelty import NoveltyScorer
    from triage.engines.embedder import Embedder

CHAR_NGRAM_RANGE = (2, 5)
WORD_NGRAM_RANGE = (1, 2)
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
    novelty: float | None = None
    """How unlike the training rows the text is (``novelty.py``); None for an artifact without a novelty bank."""
    novelty_threshold: float | None = None
    """The artifact's threshold: ``novelty`` at or above it is novel."""

    @property
    def novel(self) -> bool:
        return (
            self.novelty is not None
            and self.novelty_threshold is not None
            and self.novelty >= self.novelty_threshold
        )


@dataclass(frozen=True)
class LinearHead:
    coef: NDArray[np.float32]
    intercept: NDArray[np.float32]

    def __post_init__(self) -> None:
        # The weights are kept transposed in memory (``coef`` is a view of them, not a second copy): with sparse
        # features, ``features @ coef.T`` would otherwise copy the whole matrix on every call (~0.4 ms a triage).
        object.__setattr__(self, "coef", np.ascontiguousarray(self.coef.T).T)

    def log_proba(self, features: NDArray[np.float32] | csr_matrix) -> NDArray[np.float64]:
        logits = features @ self.coef.T + self.intercept
        return np.asarray(log_softmax(np.asarray(logits, dtype=np.float64), axis=1))


@dataclass(frozen=True)
class NeighbourHead:
    """Soft k-nearest-neighbour vote: each of the ``k`` most cosine-similar training rows votes for its label
    with weight ``exp((similarity - 1) / temperature)`` (rows are unit-norm). Votes are floored, so no label
    gets probability zero."""

    bank: NDArray[np.float32]
    bank_labels: NDArray[np.int64]
    n_labels: int
    k: int
    temperature: float

    def log_proba(self, features: NDArray[np.float32]) -> NDArray[np.float64]:
        k = min(self.k, len(self.bank))
        out = np.empty((len(features), self.n_labels))
        for start in range(0, len(features), 1024):
            sims = np.asarray(features[start : start + 1024] @ self.bank.T, dtype=np.float64)
            idx = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            weight = np.exp((np.take_along_axis(sims, idx, axis=1) - 1.0) / self.temperature)
            votes = np.full((len(sims), self.n_labels), 1e-6)
            rows = np.repeat(np.arange(len(sims)), k)
            np.add.at(votes, (rows, self.bank_labels[idx].ravel()), weight.ravel())
            out[start : start + len(sims)] = np.log(votes / votes.sum(axis=1, keepdims=True))
        return out


MEMBERS = ("embedding", "char", "word", "knn", "tuned")
TEXT_MEMBERS = ("char", "word")
EMBEDDING_MEMBERS = ("embedding", "knn")
TUNED_MEMBERS = ("tuned",)


@dataclass(frozen=True)
class Ensemble:
    heads: dict[str, LinearHead | NeighbourHead]
    vectorizers: dict[str, TfidfVectorizer]
    weights: dict[str, float]
    temperature: float

    def combined_log_proba(
        self,
        embeddings: NDArray[np.float32],
        texts: list[str],
        tuned: NDArray[np.float32] | None = None,
    ) -> NDArray[np.float64]:
        """Uncalibrated mixture score (divide by ``temperature`` before the softmax); ``tuned`` holds the tuned
        encoder's embeddings of ``texts`` when a tuned member is in the mixture."""
        total: NDArray[np.float64] | None = None
        for name, head in self.heads.items():
            features: Any
            if name in EMBEDDING_MEMBERS:
                features = embeddings
            elif name in TUNED_MEMBERS:
                if tuned is None:
                    raise ValueError(f"member {name!r} needs the tuned encoder's embeddings")
                features = tuned
            else:
                features = _transform(self.vectorizers[name], texts)
            part = self.weights[name] * head.log_proba(features)
            total = part if total is None else total + part
        assert total is not None
        return total

    @property
    def uses_tuned(self) -> bool:
        return any(name in TUNED_MEMBERS for name in self.heads)

    def proba(
        self, embeddings: NDArray[np.float32], texts: list[str], tuned: NDArray[np.float32] | None = None
    ) -> NDArray[np.float64]:
        return np.asarray(
            softmax(self.combined_log_proba(embeddings, texts, tuned) / self.temperature, axis=1)
        )


def _transform(vectorizer: TfidfVectorizer, texts: list[str]) -> csr_matrix:
    """``vectorizer.transform(texts)`` without scikit-learn's per-call parameter and finiteness checks (the
    vectorizer is ours and fitted; the checks cost ~0.25 ms a triage), same output."""
    from sklearn import config_context

    with config_context(skip_parameter_validation=True, assume_finite=True):
        return vectorizer.transform(texts)


def _vectorizer_options(member: str) -> dict[str, Any]:
    if member == "char":
        return {"analyzer": "char_wb", "ngram_range": CHAR_NGRAM_RANGE}
    if member == "word":
        return {"analyzer": "word", "ngram_range": WORD_NGRAM_RANGE, "token_pattern": r"(?u)\b\w+\b"}
    raise ValueError(f"unknown text member {member!r}")


def new_vectorizer(member: str, max_features: int | None = None) -> TfidfVectorizer:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        **_vectorizer_options(member),
        lowercase=True,
        sublinear_tf=True,
        min_df=2,
        max_features=max_features,
        dtype=np.float32,
    )


def restore_vectorizer(member: str, vocabulary: list[str], idf: NDArray[np.float32]) -> TfidfVectorizer:
    """A fitted vectorizer rebuilt from plain data (no pickle)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(
        **_vectorizer_options(member),
        lowercase=True,
        sublinear_tf=True,
        vocabulary={gram: i for i, gram in enumerate(vocabulary)},
        dtype=np.float32,
    )
    vectorizer.idf_ = np.asarray(idf, dtype=np.float64)
    return vectorizer


def vectorizer_vocabulary(vectorizer: TfidfVectorizer) -> list[str]:
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

    def __init__(
        self,
        ensemble: Ensemble,
        embedder: Embedder,
        metadata: dict[str, Any],
        tuned_embedder: Embedder | None = None,
        novelty: NoveltyScorer | None = None,
    ) -> None:
        if ensemble.uses_tuned and tuned_embedder is None:
            raise ValueError("the ensemble has a tuned member but no tuned encoder was given")
        self._ensemble = ensemble
        self._embedder = embedder
        self._tuned = tuned_embedder
        self.novelty = novelty
        self.metadata = metadata
        self.version: str = metadata["version"]
        self.labels: list[str] = list(metadata["labels"])
        self.embedding_model_id: str = metadata["embedding_model"]

    def predict_proba(self, texts: list[str]) -> NDArray[np.float64]:
        """Calibrated probabilities, one row per text, columns in ``labels`` order."""
        return self._scores(texts)[0]

    def _scores(self, texts: list[str]) -> tuple[NDArray[np.float64], NDArray[np.float32]]:
        """The probabilities and the frozen embeddings they were computed from."""
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise InvalidInput("texts must be a list of strings")
        if not texts:
            return np.zeros((0, len(self.labels))), np.zeros((0, self._embedder.dimension), np.float32)
        if any(not t.strip() for t in texts):
            raise InvalidInput("cannot classify an empty text")
        tuned = self._tuned.embed(texts) if self._tuned is not None else None
        embeddings = self._embedder.embed(texts)
        return self._ensemble.proba(embeddings, texts, tuned), embeddings

    def predict(self, texts: list[str]) -> list[Prediction]:
        proba, embeddings = self._scores(texts)
        predictions = top_predictions(proba, self.labels)
        if self.novelty is None or not predictions:
            return predictions
        threshold = self.novelty.threshold
        return [
            replace(p, novelty=round(float(score), 6), novelty_threshold=threshold)
            for p, score in zip(predictions, self.novelty.score(embeddings), strict=True)
        ]
