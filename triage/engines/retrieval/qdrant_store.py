"""The history collection on a Qdrant server or cluster, through qdrant-client.

(The embedded collection is a Qdrant Edge shard, ``edge_store.py``: the same engine in process, the same
payload indexes and filters, ``filtering.py``.) qdrant-client is imported here, lazily, so ``triage --help``
never pays for it. Every client failure becomes ``UpstreamUnavailable``; a collection made by another embedding
model (or of another size) is refused with ``ConfigurationError`` because mixed vector spaces give silent
garbage.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any

import numpy as np

from triage.core.errors import ConfigurationError, InvalidInput, UpstreamUnavailable
from triage.engines.retrieval.filtering import (
    DATETIME_FIELDS,
    KEYWORD_FIELDS,
    build_filter,
    mismatch_message,
    same_model,
)
from triage.engines.retrieval.models import CaseFilters, HistoricalCase, Neighbour, StoreHealth, point_id

if TYPE_CHECKING:
    from numpy.typing import NDArray
    from qdrant_client import QdrantClient

SCHEMA_VERSION = 1


def _client_errors() -> tuple[type[BaseException], ...]:
    import httpx
    from qdrant_client.http.exceptions import ApiException

    # RuntimeError: what a closed client raises; OSError covers refused connections and timeouts.
    return (ApiException, httpx.HTTPError, OSError, RuntimeError)


class QdrantCaseStore:
    """A ``CaseBackend`` over one collection on a Qdrant server (cosine distance, point id = UUID5 of the case id)."""

    def __init__(
        self,
        client: QdrantClient,
        *,
        collection: str,
        model_id: str,
        dimension: int,
        mode: str,
        timeout_s: float,
    ) -> None:
        self._client = client
        self.collection = collection
        self.model_id = model_id
        self.dimension = dimension
        self.mode = mode
        self._timeout = max(1, math.ceil(timeout_s))
        self._errors = _client_errors()
        self._verified = False
        self._closed = False

    @contextmanager
    def _upstream(self, what: str) -> Iterator[None]:
        if self._closed:
            raise UpstreamUnavailable(f"case store ({self.mode}) is closed")
        try:
            yield
        except self._errors as exc:
            raise UpstreamUnavailable(f"case store ({self.mode}) failed to {what}: {exc}") from exc

    def ensure_collection(self) -> None:
        """Create the collection and its payload indexes, or check the existing one was made by our model."""
        from qdrant_client import models
        from qdrant_client.http.exceptions import UnexpectedResponse

        with self._upstream("open the collection"):
            if not self._client.collection_exists(self.collection):
                try:
                    self._client.create_collection(
                        self.collection,
                        vectors_config=models.VectorParams(
                            size=self.dimension, distance=models.Distance.COSINE
                        ),
                        metadata=self._metadata(),
                        timeout=self._timeout,
                    )
                except UnexpectedResponse as exc:
                    if exc.status_code != 409:  # 409: another process created it first; checked below
                        raise
                self._create_payload_indexes()
            self._check_existing()
        self._verified = True

    def _metadata(self) -> dict[str, Any]:
        return {"embedding_model": self.model_id, "dimension": self.dimension, "schema": SCHEMA_VERSION}

    def _create_payload_indexes(self) -> None:
        from qdrant_client import models

        for name in KEYWORD_FIELDS:
            self._client.create_payload_index(
                self.collection, name, models.PayloadSchemaType.KEYWORD, timeout=self._timeout
            )
        for name in DATETIME_FIELDS:
            self._client.create_payload_index(
                self.collection, name, models.PayloadSchemaType.DATETIME, timeout=self._timeout
            )

    def _check_existing(self) -> None:
        from qdrant_client import models

        info = self._client.get_collection(self.collection)
        params = info.config.params.vectors
        if not isinstance(params, models.VectorParams):
            raise ConfigurationError(
                f"the case collection {self.collection!r} uses named vectors; it was not made by triage. "
                "Choose another TRIAGE_QDRANT_COLLECTION."
            )
        if params.size != self.dimension or params.distance != models.Distance.COSINE:
            raise ConfigurationError(
                f"the case collection {self.collection!r} holds {params.size}-d {params.distance.value} "
                f"vectors; the embedding model {self.model_id!r} makes {self.dimension}-d cosine vectors. "
                "Re-index into a new collection (TRIAGE_QDRANT_COLLECTION) or delete this one."
            )
        recorded = (info.config.metadata or {}).get("embedding_model")
        if recorded is None:
            if info.points_count:
                raise ConfigurationError(
                    f"the case collection {self.collection!r} has {info.points_count} points but no recorded "
                    "embedding model (made by another tool, or a Qdrant server older than 1.16). Re-index "
                    "into a new collection (TRIAGE_QDRANT_COLLECTION) so the vectors' model is known."
                )
            self._client.update_collection(self.collection, metadata=self._metadata(), timeout=self._timeout)
        elif recorded != self.model_id:
            if info.points_count or not same_model(str(recorded), self.model_id):
                raise ConfigurationError(mismatch_message(self.collection, str(recorded), self.model_id))
            # Empty, same model: a learnt space recorded but its files since lost or replaced. No vectors to mix
            # up, so it takes the space of the files.
            self._client.update_collection(self.collection, metadata=self._metadata(), timeout=self._timeout)

    def _ready(self) -> None:
        if not self._verified:
            self.ensure_collection()

    def search(
        self, vector: NDArray[np.float32], *, k: int, filters: CaseFilters | None = None
    ) -> list[Neighbour]:
        from qdrant_client import models

        self._ready()
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        if query.shape[0] != self.dimension:
            raise InvalidInput(
                f"query vector has {query.shape[0]} dimensions, the collection {self.dimension}"
            )
        with self._upstream("search"):
            response = self._client.query_points(
                self.collection,
                query=query.tolist(),
                query_filter=build_filter(models, filters),
                limit=k,
                with_payload=True,
                with_vectors=False,
                timeout=self._timeout,
            )
        return [Neighbour.from_payload(point.payload or {}, point.score) for point in response.points]

    def upsert(self, cases: Sequence[HistoricalCase], vectors: NDArray[np.float32]) -> int:
        from qdrant_client import models

        if not cases:
            return 0
        if vectors.shape != (len(cases), self.dimension):
            raise InvalidInput(
                f"expected vectors of shape ({len(cases)}, {self.dimension}), got {vectors.shape}"
            )
        self._ready()
        points = [
            models.PointStruct(id=point_id(case.case_id), vector=row.tolist(), payload=case.payload())
            for case, row in zip(cases, np.asarray(vectors, dtype=np.float32), strict=True)
        ]
        with self._upstream("upsert"):
            self._client.upsert(self.collection, points=points, wait=True)
        return len(points)

    def existing(self, case_ids: Sequence[str]) -> set[str]:
        if not case_ids:
            return set()
        self._ready()
        by_point = {point_id(case_id): case_id for case_id in case_ids}
        with self._upstream("look up ids"):
            records = self._client.retrieve(
                self.collection,
                ids=list(by_point),
                with_payload=False,
                with_vectors=False,
                timeout=self._timeout,
            )
        return {by_point[str(record.id)] for record in records if str(record.id) in by_point}

    def count(self) -> int:
        self._ready()
        with self._upstream("count"):
            return int(self._client.count(self.collection, exact=True, timeout=self._timeout).count)

    def health(self) -> StoreHealth:
        try:
            points = self.count()
        except (UpstreamUnavailable, ConfigurationError) as exc:
            return StoreHealth(ok=False, mode=self.mode, points=None, detail=exc.detail)
        detail = f"collection {self.collection!r}, model {self.model_id!r}"
        return StoreHealth(ok=True, mode=self.mode, points=points, detail=detail)

    def rebind(self, model_id: str) -> None:
        """Record another vector space (one learnt from the history) on this still empty collection."""
        if self.count() > 0:
            raise ConfigurationError(
                f"the case collection {self.collection!r} already holds points of {self.model_id!r}; "
                "it cannot change vector space"
            )
        self.model_id = model_id
        with self._upstream("record the vector space"):
            self._client.update_collection(self.collection, metadata=self._metadata(), timeout=self._timeout)

    def optimize(self) -> None:
        """Nothing to do: a Qdrant server runs its optimizers (and builds HNSW) by itself."""

    def drop(self) -> None:
        """Delete the whole collection (temporary evaluation collections)."""
        with self._upstream("drop the collection"):
            self._client.delete_collection(self.collection, timeout=self._timeout)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with suppress(*self._errors):  # closing a client whose server is gone must not fail shutdown
            self._client.close()


def open_qdrant_store(
    *, collection: str, model_id: str, dimension: int, url: str, api_key: str | None, timeout_s: float
) -> QdrantCaseStore:
    """Open the collection on the server at ``url``, creating it if needed.

    A server that does not answer yet is not fatal: the store verifies the collection on first use and reports
    ``UpstreamUnavailable`` until then, so the service can start degraded. A model mismatch is always fatal.
    """
    from qdrant_client import QdrantClient

    client = QdrantClient(
        url=url, api_key=api_key, timeout=max(1, math.ceil(timeout_s)), check_compatibility=False
    )
    store = QdrantCaseStore(
        client,
        collection=collection,
        model_id=model_id,
        dimension=dimension,
        mode="server",
        timeout_s=timeout_s,
    )
    try:
        store.ensure_collection()
    except UpstreamUnavailable:
        pass  # retried on first use and by the background reconnect
    except ConfigurationError:
        store.close()
        raise
    return store
