"""The case store the service uses: a backend plus the vector space its collection was indexed in.

The space is the served embedder's own (frozen), or one learnt from the labelled history: an encoder fine-tuned
on it (``triage.engines.tuning``; its tensors in ``<name>.encoder.safetensors``) or, when the embedder cannot be
tuned, a linear ``metric.Projection`` of the served embedder's vectors (``<name>.npy``). Callers get vectors for
texts from ``vectors_for`` (the tuned encoder when there is one, else the served embedder) and hand them to
``search``/``upsert``, which apply the projection, if any, on the way in. Scores are cosines in that space.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from triage.core.errors import ConfigurationError
from triage.engines.retrieval.metric import Projection
from triage.engines.retrieval.models import CaseBackend, CaseFilters, HistoricalCase, Neighbour, StoreHealth

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from triage.engines.embedder import Embedder


def encoder_file_for(projection_file: Path) -> Path:
    return projection_file.with_name(projection_file.stem + ".encoder.safetensors")


def load_encoder(path: Path) -> dict[str, NDArray[np.float32]] | None:
    if not path.is_file():
        return None
    from safetensors.numpy import load_file

    try:
        return dict(load_file(str(path)))
    except Exception as exc:  # safetensors raises its own error type for a torn or foreign file
        raise ConfigurationError(
            f"{path}: unreadable tuned encoder ({exc}); restore it, or re-index into a new collection"
        ) from exc


def space_id(model_id: str, projection: Projection | None, encoder: dict[str, Any] | None) -> str:
    """The vector-space id a collection records: the model, the tuned encoder's digest, the projection's."""
    from triage.engines.tuning import tensors_digest

    tuned = f"+tuned:{tensors_digest(encoder)}" if encoder else ""
    return model_id + tuned + (f"+proj:{projection.digest}" if projection is not None else "")


class VectorSpaceStore:
    """A ``CaseStore``: wraps a ``CaseBackend`` and maps texts into its collection's vector space.

    ``projection_file`` (and the encoder file beside it) hold the learnt space, when there is one."""

    def __init__(
        self,
        inner: CaseBackend,
        *,
        embedding_model_id: str,
        projection_file: Path,
        projection: Projection | None,
        encoder: dict[str, NDArray[np.float32]] | None = None,
    ) -> None:
        self.inner = inner
        self.embedding_model_id = embedding_model_id
        self.projection_file = projection_file
        self.projection = projection
        self.encoder = encoder
        self._tuned: Embedder | None = None
        self._lock = threading.Lock()
        self.model_id = inner.model_id
        """The vector space the collection records (the embedding model, plus the learnt parts' digests)."""

    def adopt_space(
        self,
        projection: Projection | None,
        encoder: dict[str, NDArray[np.float32]] | None = None,
        tuned: Embedder | None = None,
    ) -> None:
        """Use this learnt space from now on: only on an empty collection, whose recorded space changes with it.

        The files are written first, then the collection's record: a crash in between leaves an empty
        collection whose record disagrees with the files, which the next open repairs (it adopts the files'
        space, there being no vectors to mix up). ``tuned``, the encoder already built from ``encoder``, saves
        building it again."""
        from safetensors.numpy import save_file

        if self.inner.count() > 0:
            raise ConfigurationError(
                f"the case collection already holds points of {self.model_id!r}; it cannot change vector space"
            )
        encoder_file = encoder_file_for(self.projection_file)
        try:
            encoder_file.parent.mkdir(parents=True, exist_ok=True)
            if encoder:
                tmp = encoder_file.with_name(encoder_file.name + ".tmp")
                save_file(encoder, str(tmp))
                tmp.replace(encoder_file)
            else:
                encoder_file.unlink(missing_ok=True)
            if projection is not None:
                projection.save(self.projection_file)
            else:
                self.projection_file.unlink(missing_ok=True)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot save the learnt space under {encoder_file.parent}: {exc}"
            ) from exc
        self.inner.rebind(space_id(self.embedding_model_id, projection, encoder))
        with self._lock:
            self.projection, self.encoder, self._tuned = projection, encoder, tuned if encoder else None
        self.model_id = self.inner.model_id

    def prepare(self, embedder: Embedder) -> None:
        """Build the tuned encoder now (at start-up) rather than inside the first request."""
        if self.encoder:
            self._tuned_for(embedder)

    def _tuned_for(self, embedder: Embedder) -> Embedder:
        with self._lock:
            if self._tuned is None:
                from triage.engines.tuning import TunedEmbedder, sentence_model

                base = sentence_model(embedder)
                if base is None:
                    raise ConfigurationError(
                        "the case store's learnt space needs a sentence-transformers embedder, "
                        f"not {type(embedder).__name__}"
                    )
                self._tuned = TunedEmbedder(base, self.encoder or {}, model_id=self.model_id)
            return self._tuned

    def vectors_for(self, embedder: Embedder, texts: list[str]) -> NDArray[np.float32]:
        """Vectors of ``texts`` for ``search``/``upsert``: from the tuned encoder when the space has one (laid
        over a copy of ``embedder``'s model), else from ``embedder``."""
        if not self.encoder:
            return embedder.embed(texts)
        return self._tuned_for(embedder).embed(texts)

    def _project(self, vectors: NDArray[np.float32]) -> NDArray[np.float32]:
        return vectors if self.projection is None else self.projection.apply(vectors)

    def search(
        self, vector: NDArray[np.float32], *, k: int, filters: CaseFilters | None = None
    ) -> list[Neighbour]:
        return self.inner.search(self._project(vector), k=k, filters=filters)

    def upsert(self, cases: Sequence[HistoricalCase], vectors: NDArray[np.float32]) -> int:
        return self.inner.upsert(cases, self._project(vectors))

    def existing(self, case_ids: Sequence[str]) -> set[str]:
        return self.inner.existing(case_ids)

    def optimize(self) -> None:
        self.inner.optimize()

    def count(self) -> int:
        return self.inner.count()

    def health(self) -> StoreHealth:
        health = self.inner.health()
        if (self.projection is None and not self.encoder) or not health.ok:
            return health
        learnt = self.model_id[len(self.embedding_model_id) :].lstrip("+").replace("+", ", ")
        detail = f"{health.detail}; learnt space {learnt}"
        return StoreHealth(ok=health.ok, mode=health.mode, points=health.points, detail=detail)

    def drop(self) -> None:
        """Delete the collection and its learnt space's files."""
        self.inner.drop()
        self.projection_file.unlink(missing_ok=True)
        encoder_file_for(self.projection_file).unlink(missing_ok=True)

    def close(self) -> None:
        self.inner.close()
