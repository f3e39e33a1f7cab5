"""The embedded history collection: a Qdrant Edge shard in a folder (Qdrant's own engine, in process).

The same engine as a Qdrant server (segments, HNSW, payload indexes, filters), so embedded and server
deployments share the payload indexes and filters (``filtering.py``) and return the same neighbours. Searches
are exact (a scan of every vector, in Rust) while the collection is small, and go through HNSW once it holds
more than ``exact_below`` points: the index is built by ``optimize()`` (at the end of ``triage index`` and
``triage bootstrap``, never inside a request). Layout under the folder::

    shard/        the Edge shard (its write-ahead log makes each upsert durable)
    triage.json   the vector space the collection records (embedding model, learnt parts' digests), dimension
    .lock         one process per folder, like every embedded store

qdrant-edge is imported here, lazily. Its failures (plain ``Exception``) become ``UpstreamUnavailable``.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from triage.core.errors import ConfigurationError, InvalidInput, UpstreamUnavailable
from triage.engines.retrieval.filtering import (
    DATETIME_FIELDS,
    KEYWORD_FIELDS,
    LOCK_HINT,
    build_filter,
    mismatch_message,
    same_model,
)
from triage.engines.retrieval.models import CaseFilters, HistoricalCase, Neighbour, StoreHealth, point_id

if TYPE_CHECKING:
    from numpy.typing import NDArray

SCHEMA_VERSION = 1
META_FILE = "triage.json"
SHARD_DIR = "shard"
VECTOR_KB = 4 / 1024
"""Kilobytes per float32 component: Qdrant's thresholds are sizes in KB, ours are point counts."""
HNSW_M = 16
HNSW_EF_CONSTRUCT = 100


class EdgeCaseStore:
    """A ``CaseBackend`` over one Qdrant Edge shard (cosine distance, point id = UUID5 of the case id)."""

    mode = "local"
    """Shown by ``/ready``: the same name as before Edge, when local meant qdrant-client's local mode."""

    def __init__(
        self,
        folder: Path,
        *,
        model_id: str,
        dimension: int,
        exact_below: int = 20_000,
        hnsw_ef: int = 128,
    ) -> None:
        self.folder = folder
        self.model_id = model_id
        self.dimension = dimension
        self.exact_below = exact_below
        self.hnsw_ef = hnsw_ef
        self._lock = threading.RLock()
        self._closed = False
        folder.mkdir(parents=True, exist_ok=True)
        self._flock = _acquire_folder(folder)
        try:
            self._check_meta()
            self._shard = self._open_shard()
        except BaseException:
            _release_folder(self._flock)
            raise

    def _open_shard(self) -> Any:
        import qdrant_edge as edge

        path = self.folder / SHARD_DIR
        try:
            if (path / "edge_config.json").is_file():
                return edge.EdgeShard.load(str(path))
            shard = edge.EdgeShard.create(str(path), self._config())
            for name in KEYWORD_FIELDS:
                shard.update(edge.UpdateOperation.create_field_index(name, edge.PayloadSchemaType.Keyword))
            for name in DATETIME_FIELDS:
                shard.update(edge.UpdateOperation.create_field_index(name, edge.PayloadSchemaType.Datetime))
            return shard
        except Exception as exc:  # qdrant-edge raises plain Exception for every failure
            raise UpstreamUnavailable(f"case store (local) cannot open {path}: {exc}") from exc

    def _config(self) -> Any:
        import qdrant_edge as edge

        threshold_kb = max(1, int(self.exact_below * self.dimension * VECTOR_KB))
        return edge.EdgeConfig(
            vectors=edge.EdgeVectorParams(size=self.dimension, distance=edge.Distance.Cosine),
            hnsw_config=edge.HnswIndexConfig(
                m=HNSW_M, ef_construct=HNSW_EF_CONSTRUCT, full_scan_threshold=threshold_kb
            ),
            optimizers=edge.EdgeOptimizersConfig(indexing_threshold=threshold_kb),
            # One search thread: a search is a fraction of a millisecond of work, and the request threads
            # and the encoder already hold the cores.
            max_search_threads=1,
        )

    def _write_meta(self) -> None:
        meta = {"embedding_model": self.model_id, "dimension": self.dimension, "schema": SCHEMA_VERSION}
        tmp = self.folder / (META_FILE + ".tmp")
        tmp.write_text(json.dumps(meta), encoding="utf-8")
        tmp.replace(self.folder / META_FILE)

    def _check_meta(self) -> None:
        path = self.folder / META_FILE
        if not path.is_file():
            self._write_meta()
            return
        meta = json.loads(path.read_text(encoding="utf-8"))
        recorded = str(meta.get("embedding_model"))
        empty = not (self.folder / SHARD_DIR).exists() or self._stored_points() == 0
        stored_dimension = int(meta.get("dimension", 0))
        if stored_dimension != self.dimension:
            raise ConfigurationError(
                f"the case collection {self.folder.name!r} holds {stored_dimension}-d vectors; the embedding "
                f"model {self.model_id!r} makes {self.dimension}-d vectors. Re-index into a new collection "
                "(TRIAGE_QDRANT_COLLECTION) or delete this one."
            )
        if recorded != self.model_id and not (empty and same_model(recorded, self.model_id)):
            raise ConfigurationError(mismatch_message(self.folder.name, recorded, self.model_id))
        if recorded != self.model_id:
            self._write_meta()  # empty, same model: no vectors to mix up, it takes the space of its files

    def _stored_points(self) -> int:
        """Points in the shard before it is opened for use (opened and closed again)."""
        import qdrant_edge as edge

        try:
            shard = edge.EdgeShard.load(str(self.folder / SHARD_DIR))
        except Exception as exc:  # a torn or foreign folder
            raise UpstreamUnavailable(f"case store (local) cannot open {self.folder}: {exc}") from exc
        try:
            return int(shard.count(edge.CountRequest(exact=True)))
        finally:
            shard.close()

    @contextmanager
    def _upstream(self, what: str) -> Iterator[Any]:
        with self._lock:
            if self._closed:
                raise UpstreamUnavailable("case store (local) is closed")
            try:
                yield self._shard
            except (InvalidInput, ConfigurationError):
                raise
            except Exception as exc:  # qdrant-edge raises plain Exception for every failure
                raise UpstreamUnavailable(f"case store (local) failed to {what}: {exc}") from exc

    def search(
        self, vector: NDArray[np.float32], *, k: int, filters: CaseFilters | None = None
    ) -> list[Neighbour]:
        import qdrant_edge as edge

        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        if query.shape[0] != self.dimension:
            raise InvalidInput(f"query vector has {query.shape[0]} dimensions, the store {self.dimension}")
        if k <= 0:
            return []
        request = edge.QueryRequest(
            limit=k,
            query=edge.Query.Nearest(query.tolist()),
            filter=build_filter(edge, filters),
            params=edge.SearchParams(hnsw_ef=max(self.hnsw_ef, k)),
            with_payload=True,
            with_vector=False,
        )
        with self._upstream("search") as shard:
            points = shard.query(request)
        return [Neighbour.from_payload(point.payload or {}, point.score) for point in points]

    def exact_search(self, vector: NDArray[np.float32], *, k: int) -> list[Neighbour]:
        """The same search, scanning every vector (the reference the benchmark measures HNSW recall against)."""
        import qdrant_edge as edge

        request = edge.QueryRequest(
            limit=k,
            query=edge.Query.Nearest(np.asarray(vector, dtype=np.float32).reshape(-1).tolist()),
            params=edge.SearchParams(exact=True),
            with_payload=True,
        )
        with self._upstream("search") as shard:
            points = shard.query(request)
        return [Neighbour.from_payload(point.payload or {}, point.score) for point in points]

    def upsert(self, cases: Sequence[HistoricalCase], vectors: NDArray[np.float32]) -> int:
        return self.upsert_payloads([case.payload() for case in cases], vectors)

    def upsert_payloads(self, payloads: Sequence[dict[str, Any]], vectors: NDArray[np.float32]) -> int:
        """Upsert stored payloads (``HistoricalCase.payload()``, or read back from another store) as they are."""
        import qdrant_edge as edge

        if not payloads:
            return 0
        if vectors.shape != (len(payloads), self.dimension):
            raise InvalidInput(
                f"expected vectors of shape ({len(payloads)}, {self.dimension}), got {vectors.shape}"
            )
        points = [
            edge.Point(point_id(str(payload["case_id"])), row.tolist(), payload)
            for payload, row in zip(payloads, np.asarray(vectors, dtype=np.float32), strict=True)
        ]
        with self._upstream("upsert") as shard:
            shard.update(edge.UpdateOperation.upsert_points(points))
        return len(points)

    def optimize(self) -> None:
        """Merge segments and build the HNSW index once the collection is past ``exact_below`` points."""
        with self._upstream("optimize") as shard:
            shard.optimize()

    def existing(self, case_ids: Sequence[str]) -> set[str]:
        if not case_ids:
            return set()
        by_point = {point_id(case_id): case_id for case_id in case_ids}
        with self._upstream("look up ids") as shard:
            records = shard.retrieve(list(by_point), with_payload=False, with_vector=False)
        return {by_point[str(record.id)] for record in records if str(record.id) in by_point}

    def count(self) -> int:
        import qdrant_edge as edge

        with self._upstream("count") as shard:
            return int(shard.count(edge.CountRequest(exact=True)))

    def indexed(self) -> int:
        """Points reachable through the HNSW index (the rest are scanned exactly)."""
        with self._upstream("describe the shard") as shard:
            return int(shard.info().indexed_vectors_count)

    def health(self) -> StoreHealth:
        try:
            points, indexed = self.count(), self.indexed()
        except UpstreamUnavailable as exc:
            return StoreHealth(ok=False, mode=self.mode, points=None, detail=exc.detail)
        detail = f"Qdrant Edge at {self.folder}, model {self.model_id!r}, {indexed} points in HNSW"
        return StoreHealth(ok=True, mode=self.mode, points=points, detail=detail)

    def rebind(self, model_id: str) -> None:
        """Record another vector space (one learnt from the history) on this still empty collection."""
        with self._lock:
            if self.count() > 0:
                raise ConfigurationError(
                    f"the case store {self.folder} already holds points of {self.model_id!r}; "
                    "it cannot change vector space"
                )
            self.model_id = model_id
            self._write_meta()

    def drop(self) -> None:
        """Delete every stored case and the folder; the store is closed afterwards."""
        self.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._shard.close()
            except Exception as exc:  # closing must not fail shutdown; the WAL already holds every update
                raise UpstreamUnavailable(f"case store (local) failed to close: {exc}") from exc
            finally:
                _release_folder(self._flock)


def _acquire_folder(folder: Path) -> IO[str]:
    import portalocker

    handle = (folder / ".lock").open("a+")
    try:
        portalocker.lock(handle, portalocker.LockFlags.EXCLUSIVE | portalocker.LockFlags.NON_BLOCKING)
    except portalocker.exceptions.LockException as exc:
        handle.close()
        raise ConfigurationError(f"the embedded case store folder {folder} is in use. {LOCK_HINT}") from exc
    return handle


def _release_folder(handle: IO[str]) -> None:
    import portalocker

    if not handle.closed:
        portalocker.unlock(handle)
        handle.close()
