"""Moving a collection made by an earlier embedded store into the Qdrant Edge store.

Before Qdrant Edge, the embedded collection was qdrant-client's local mode (``$TRIAGE_HOME/qdrant``) or, with
``TRIAGE_CASE_STORE=matrix``, the matrix store (``$TRIAGE_HOME/matrix/<collection>``). The first time the Edge
store of a collection is opened empty (by ``triage index``, ``triage bootstrap`` or ``triage serve``) and such a
collection exists, its points (vectors and payloads, as stored: nothing is embedded again) are copied over and
the HNSW index is built. The old folder is left as it was; delete it once the new store serves.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from triage.core.errors import ConfigurationError
from triage.engines.retrieval.filtering import LOCK_HINT, mismatch_message

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from triage.engines.retrieval.edge_store import EdgeCaseStore

log = logging.getLogger("triage")
BATCH = 1_000
Chunk = tuple[list[dict[str, Any]], "NDArray[np.float32]"]


def migrate_legacy(
    target: EdgeCaseStore, *, local_path: Path, matrix_folder: Path, collection: str, matrix_first: bool
) -> int:
    """Copy the first legacy collection found into the empty ``target`` (the matrix store's first when
    ``matrix_first``, as with ``TRIAGE_CASE_STORE=matrix``); how many points were copied."""
    sources = [
        (local_path, _local_chunks(local_path, collection, target)),
        (matrix_folder, _matrix_chunks(matrix_folder, target)),
    ]
    for source, chunks in reversed(sources) if matrix_first else sources:
        copied = 0
        for payloads, vectors in chunks:
            copied += target.upsert_payloads(payloads, vectors)
        if copied:
            target.optimize()
            log.info("moved %d cases of %r from %s into the Qdrant Edge store", copied, collection, source)
            return copied
    return 0


def _check_space(recorded: str, target: EdgeCaseStore, source: Path) -> None:
    if recorded != target.model_id:
        raise ConfigurationError(
            f"cannot move the embedded collection at {source} into Qdrant Edge: "
            + mismatch_message(source.name, recorded, target.model_id)
        )


def _matrix_chunks(folder: Path, target: EdgeCaseStore) -> Iterator[Chunk]:
    meta, payload_path = folder / "meta.json", folder / "payloads.jsonl"
    if not meta.is_file() or not payload_path.is_file() or payload_path.stat().st_size == 0:
        return
    _check_space(str(json.loads(meta.read_text(encoding="utf-8")).get("embedding_model")), target, folder)
    stored = np.fromfile(folder / "vectors.f32", dtype=np.float32)
    vectors = stored[: stored.size - stored.size % target.dimension].reshape(-1, target.dimension)
    last_row: dict[str, tuple[int, dict[str, Any]]] = {}
    with payload_path.open("rb") as handle:
        for row, line in enumerate(handle):
            if row >= len(vectors) or not line.endswith(b"\n"):
                break  # a torn last write: everything before it is intact
            payload = json.loads(line)
            last_row[str(payload["case_id"])] = (row, payload)  # a later line overwrote the case
    kept = sorted(last_row.values(), key=lambda item: item[0])
    for start in range(0, len(kept), BATCH):
        chunk = kept[start : start + BATCH]
        yield [payload for _, payload in chunk], vectors[[row for row, _ in chunk]]


def _local_chunks(path: Path, collection: str, target: EdgeCaseStore) -> Iterator[Chunk]:
    if not (path / "collection" / collection).is_dir():
        return
    from qdrant_client import QdrantClient

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # local mode's warning past 20,000 points
            client = QdrantClient(path=str(path))
    except RuntimeError as exc:
        raise ConfigurationError(f"the embedded Qdrant folder {path} is in use. {LOCK_HINT}") from exc
    try:
        info = client.get_collection(collection)
        _check_space(str((info.config.metadata or {}).get("embedding_model")), target, path)
        offset: Any = None
        while True:
            records, offset = client.scroll(
                collection, limit=BATCH, offset=offset, with_payload=True, with_vectors=True
            )
            if records:
                vectors = np.asarray([record.vector for record in records], dtype=np.float32)
                yield [dict(record.payload or {}) for record in records], vectors
            if offset is None:
                return
    finally:
        client.close()
