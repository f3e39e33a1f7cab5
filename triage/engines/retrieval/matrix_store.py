"""An exact in-process case store: one float32 matrix, a dot product per query, payload filters as masks.

Embedded Qdrant scans its points in Python and slows down past ~20,000; this store keeps every unit vector in
one contiguous matrix, so a query is a single BLAS matrix-vector product (exact, same cosine scores). It is
persisted as an append-only log under its folder (``vectors.f32`` rows + ``payloads.jsonl`` lines, the payload
line being the commit marker) and compacted when it is opened. One process per folder, like local Qdrant.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from triage.core.errors import ConfigurationError, InvalidInput, UpstreamUnavailable
from triage.engines.retrieval.models import (
    CaseFilters,
    HistoricalCase,
    Neighbour,
    StoreHealth,
)
from triage.engines.retrieval.qdrant_store import LOCK_HINT, SCHEMA_VERSION, mismatch_message, same_model

if TYPE_CHECKING:
    from numpy.typing import NDArray

FILTER_FIELDS = ("label", "customer_id", "site")
SCORE_BLOCK = 1024
META_FILE = "meta.json"
VECTORS_FILE = "vectors.f32"
PAYLOADS_FILE = "payloads.jsonl"


class MatrixCaseStore:
    """A ``CaseBackend`` held in memory as one matrix, persisted under ``folder``."""

    mode = "matrix"

    def __init__(self, folder: Path, *, model_id: str, dimension: int) -> None:
        self.folder = folder
        self.model_id = model_id
        self.dimension = dimension
        self._lock = threading.RLock()
        self._closed = False
        folder.mkdir(parents=True, exist_ok=True)
        self._flock = self._acquire_folder(folder)
        try:
            self._check_meta()
            self._load()
        except BaseException:
            self._release_folder()
            raise

    @staticmethod
    def _acquire_folder(folder: Path) -> IO[str]:
        import portalocker

        handle = (folder / ".lock").open("a+")
        try:
            portalocker.lock(handle, portalocker.LockFlags.EXCLUSIVE | portalocker.LockFlags.NON_BLOCKING)
        except portalocker.exceptions.LockException as exc:
            handle.close()
            raise ConfigurationError(
                f"the embedded case store folder {folder} is in use. {LOCK_HINT}"
            ) from exc
        return handle

    def _release_folder(self) -> None:
        import portalocker

        if not self._flock.closed:
            portalocker.unlock(self._flock)
            self._flock.close()

    def _write_meta(self) -> None:
        meta = {"embedding_model": self.model_id, "dimension": self.dimension, "schema": SCHEMA_VERSION}
        tmp = self.folder / (META_FILE + ".tmp")
        tmp.write_text(json.dumps(meta), encoding="utf-8")
        tmp.replace(self.folder / META_FILE)

    def _check_meta(self) -> None:
        meta_path = self.folder / META_FILE
        if not meta_path.exists():
            self._write_meta()
            return
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        recorded = str(meta.get("embedding_model"))
        payloads = self.folder / PAYLOADS_FILE
        empty = not payloads.exists() or payloads.stat().st_size == 0
        refuse = recorded != self.model_id and not (empty and same_model(recorded, self.model_id))
        if int(meta.get("dimension", 0)) != self.dimension or refuse:
            raise ConfigurationError(mismatch_message(self.folder.name, recorded, self.model_id))
        if recorded != self.model_id:
            self._write_meta()  # empty, same model: no vectors to mix up, it takes the space of its files

    def _load(self) -> None:
        payload_path = self.folder / PAYLOADS_FILE
        vector_path = self.folder / VECTORS_FILE
        payloads: list[dict[str, Any]] = []
        good_bytes = 0
        if payload_path.exists():
            with payload_path.open("rb") as handle:
                for line in handle:
                    if not line.endswith(b"\n"):
                        break  # a torn last write: everything before it is intact
                    payloads.append(json.loads(line))
                    good_bytes += len(line)
        row_bytes = 4 * self.dimension
        stored_rows = vector_path.stat().st_size // row_bytes if vector_path.exists() else 0
        parsed = len(payloads)
        rows = min(parsed, stored_rows)
        payloads = payloads[:rows]
        vectors = (
            np.fromfile(vector_path, dtype=np.float32, count=rows * self.dimension).reshape(
                rows, self.dimension
            )
            if rows
            else np.zeros((0, self.dimension), dtype=np.float32)
        )
        last_row = {str(p["case_id"]): i for i, p in enumerate(payloads)}
        keep = sorted(last_row.values())
        self._payloads: list[dict[str, Any]] = [payloads[i] for i in keep]
        self._n = len(keep)
        self._vectors = np.zeros((max(1024, self._n * 2), self.dimension), dtype=np.float32)
        self._vectors[: self._n] = vectors[keep]
        self._row_of = {str(p["case_id"]): i for i, p in enumerate(self._payloads)}
        self._codes: dict[str, dict[str, int]] = {field: {} for field in FILTER_FIELDS}
        self._code_rows = {field: np.full(len(self._vectors), -1, dtype=np.int32) for field in FILTER_FIELDS}
        for row, payload in enumerate(self._payloads):
            self._set_codes(row, payload)
        vector_bytes = vector_path.stat().st_size if vector_path.exists() else 0
        payload_bytes = payload_path.stat().st_size if payload_path.exists() else 0
        torn = vector_bytes != rows * row_bytes or payload_bytes != good_bytes or parsed != rows
        if torn or len(keep) != rows:
            self._rewrite()

    def _set_codes(self, row: int, payload: dict[str, Any]) -> None:
        for field in FILTER_FIELDS:
            value = payload.get(field)
            codes = self._codes[field]
            self._code_rows[field][row] = -1 if value is None else codes.setdefault(str(value), len(codes))

    def _rewrite(self) -> None:
        """Write the live rows as a fresh log (drops overwritten rows and torn tails), atomically per file."""
        vector_tmp = self.folder / (VECTORS_FILE + ".tmp")
        payload_tmp = self.folder / (PAYLOADS_FILE + ".tmp")
        self._vectors[: self._n].tofile(vector_tmp)
        with payload_tmp.open("w", encoding="utf-8") as handle:
            for payload in self._payloads:
                handle.write(json.dumps(payload, ensure_ascii=False) + "\n")
        # vectors first: a crash in between leaves extra vector rows, which _load ignores
        vector_tmp.replace(self.folder / VECTORS_FILE)
        payload_tmp.replace(self.folder / PAYLOADS_FILE)

    def _grow(self, needed: int) -> None:
        if needed <= len(self._vectors):
            return
        capacity = max(needed, len(self._vectors) * 2)
        vectors = np.zeros((capacity, self.dimension), dtype=np.float32)
        vectors[: self._n] = self._vectors[: self._n]
        self._vectors = vectors
        for field in FILTER_FIELDS:
            codes = np.full(capacity, -1, dtype=np.int32)
            codes[: self._n] = self._code_rows[field][: self._n]
            self._code_rows[field] = codes

    def _check_open(self) -> None:
        if self._closed:
            raise UpstreamUnavailable("case store (matrix) is closed")

    def _scores(self, query: NDArray[np.float32], n: int) -> NDArray[np.float32]:
        # Blocks of SCORE_BLOCK rows stay under OpenBLAS's threading threshold: on a busy machine its threaded
        # gemv waits for CPU time and was 10x slower at 10k points (12 ms vs 1 ms p50) than these calls.
        scores = np.empty(n, dtype=np.float32)
        for start in range(0, n, SCORE_BLOCK):
            stop = min(n, start + SCORE_BLOCK)
            np.matmul(self._vectors[start:stop], query, out=scores[start:stop])
        return scores

    def search(
        self, vector: NDArray[np.float32], *, k: int, filters: CaseFilters | None = None
    ) -> list[Neighbour]:
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        if query.shape[0] != self.dimension:
            raise InvalidInput(f"query vector has {query.shape[0]} dimensions, the store {self.dimension}")
        with self._lock:
            self._check_open()
            n = self._n
            if n == 0 or k <= 0:
                return []
            scores = self._scores(query, n)
            conditions = (filters or CaseFilters()).conditions()
            if conditions:
                mask = np.ones(n, dtype=bool)
                for field, value in conditions.items():
                    code = self._codes[field].get(value)
                    if code is None:
                        return []
                    mask &= self._code_rows[field][:n] == code
                candidates = int(mask.sum())
                if candidates == 0:
                    return []
                scores = np.where(mask, scores, -np.inf)
                k = min(k, candidates)
            k = min(k, n)
            top = np.argpartition(-scores, k - 1)[:k] if k < n else np.arange(n)
            top = top[np.argsort(-scores[top], kind="stable")]
            return [Neighbour.from_payload(self._payloads[i], float(scores[i])) for i in top]

    def upsert(self, cases: Sequence[HistoricalCase], vectors: NDArray[np.float32]) -> int:
        if not cases:
            return 0
        if vectors.shape != (len(cases), self.dimension):
            raise InvalidInput(
                f"expected vectors of shape ({len(cases)}, {self.dimension}), got {vectors.shape}"
            )
        block = np.ascontiguousarray(vectors, dtype=np.float32)
        payloads = [case.payload() for case in cases]
        with self._lock:
            self._check_open()
            try:
                with (self.folder / VECTORS_FILE).open("ab") as handle:
                    handle.write(block.tobytes())
                    handle.flush()
                    os.fsync(handle.fileno())
                with (self.folder / PAYLOADS_FILE).open("a", encoding="utf-8") as text:
                    text.writelines(json.dumps(p, ensure_ascii=False) + "\n" for p in payloads)
                    text.flush()
                    os.fsync(text.fileno())
            except OSError as exc:
                raise UpstreamUnavailable(f"case store (matrix) cannot write {self.folder}: {exc}") from exc
            self._grow(self._n + len(cases))
            for payload, row_vector in zip(payloads, block, strict=True):
                row = self._row_of.get(payload["case_id"])
                if row is None:
                    row = self._n
                    self._n += 1
                    self._payloads.append(payload)
                    self._row_of[payload["case_id"]] = row
                else:
                    self._payloads[row] = payload
                self._vectors[row] = row_vector
                self._set_codes(row, payload)
        return len(cases)

    def existing(self, case_ids: Sequence[str]) -> set[str]:
        with self._lock:
            self._check_open()
            return {case_id for case_id in case_ids if case_id in self._row_of}

    def count(self) -> int:
        with self._lock:
            self._check_open()
            return self._n

    def health(self) -> StoreHealth:
        if self._closed:
            return StoreHealth(ok=False, mode=self.mode, points=None, detail="closed")
        return StoreHealth(
            ok=True, mode=self.mode, points=self._n, detail=f"{self.folder}, model {self.model_id!r}"
        )

    def rebind(self, model_id: str) -> None:
        """Record another vector space (one learnt from the history) on this still empty store."""
        with self._lock:
            self._check_open()
            if self._n > 0:
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
            self._release_folder()
