"""A case store that indexes and queries in the learnt space of ``metric.Projection``.

Callers keep handing it raw embedder vectors (the triage flow, ``index_cases``); it projects them on the way in.
Scores it returns are cosines in the projected space. Without a projection it is a pass-through.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from triage.engines.retrieval.metric import Projection
from triage.engines.retrieval.models import CaseFilters, CaseStore, HistoricalCase, Neighbour, StoreHealth

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray


class ProjectedCaseStore:
    """Wraps a backend store; ``projection_file`` holds the projection its collection was indexed with."""

    def __init__(
        self,
        inner: CaseStore,
        *,
        embedding_model_id: str,
        projection_file: Path,
        projection: Projection | None,
    ) -> None:
        self.inner = inner
        self.embedding_model_id = embedding_model_id
        self.projection_file = projection_file
        self.projection = projection
        self.model_id = inner.model_id
        """The vector space the collection records (the embedding model, plus the projection's digest)."""

    @property
    def mode(self) -> str:
        return str(getattr(self.inner, "mode", "unknown"))

    def adopt_projection(self, projection: Projection) -> None:
        """Use ``projection`` from now on: only on an empty collection, whose recorded space changes with it."""
        rebind: Any = getattr(self.inner, "rebind")  # noqa: B009 - both backends have it; the Protocol does not
        rebind(projection.space_id(self.embedding_model_id))
        projection.save(self.projection_file)
        self.projection = projection
        self.model_id = self.inner.model_id

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

    def count(self) -> int:
        return self.inner.count()

    def health(self) -> StoreHealth:
        health = self.inner.health()
        if self.projection is None or not health.ok:
            return health
        detail = f"{health.detail}; learnt projection {self.projection.digest}"
        return StoreHealth(ok=health.ok, mode=health.mode, points=health.points, detail=detail)

    def drop(self) -> None:
        drop = getattr(self.inner, "drop", None)
        if callable(drop):
            drop()
        self.projection_file.unlink(missing_ok=True)

    def close(self) -> None:
        self.inner.close()
