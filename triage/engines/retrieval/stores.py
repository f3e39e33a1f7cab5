"""Choosing and opening the case store from settings: Qdrant Edge in process, or a Qdrant server or cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from triage.config import Settings
from triage.core.errors import ConfigurationError
from triage.engines.retrieval.models import CaseBackend, CaseStore

Backend = Literal["qdrant", "matrix"]
BACKENDS: tuple[Backend, ...] = ("qdrant", "matrix")


def open_case_store(
    settings: Settings,
    *,
    embedding_model_id: str,
    dimension: int,
    collection: str | None = None,
    path: Path | None = None,
    backend: str | None = None,
) -> CaseStore:
    """Open (creating if needed) the history collection for vectors of ``embedding_model_id``.

    Embedded (no ``TRIAGE_QDRANT_URL``, or a ``path`` given): a Qdrant Edge shard under
    ``<path or $TRIAGE_HOME>/edge/<collection>``, exact search below ``settings.edge_exact_below`` points and
    HNSW above; a collection left by an earlier embedded store (qdrant-client's local mode, or the matrix store)
    is moved into it when it is first opened empty (``migrate.py``). With ``TRIAGE_QDRANT_URL`` and no ``path``:
    that server or cluster. ``backend`` (``"qdrant"``, or the old ``"matrix"``, now the same embedded store)
    only names the learnt space's files; without it the setting ``case_store`` does. Raises
    ``ConfigurationError`` on a model mismatch or a folder already opened by another process.

    The store returned is a ``VectorSpaceStore``: when a space was learnt for this collection (a tuned encoder
    in ``projections/<backend>-<collection>.encoder.safetensors`` or a projection in ``….npy``, under ``path``
    or ``TRIAGE_HOME``) vectors are indexed and searched in it, and the collection records
    ``<model>+tuned:<digest>`` or ``<model>+proj:<digest>``, so losing or swapping a file is refused. Without
    those files it is the embedder's own (frozen) space.
    """
    from triage.engines.retrieval.metric import Projection
    from triage.engines.retrieval.space import VectorSpaceStore, encoder_file_for, load_encoder, space_id

    chosen = backend or settings.case_store
    if chosen not in BACKENDS:
        raise ConfigurationError(f"unknown case store {chosen!r}; choose one of {', '.join(BACKENDS)}")
    name = collection or settings.qdrant.collection
    projection_file = (path if path is not None else settings.home) / "projections" / f"{chosen}-{name}.npy"
    projection = Projection.load(projection_file) if projection_file.is_file() else None
    encoder = load_encoder(encoder_file_for(projection_file))
    inner = _open_backend(
        settings,
        model_id=space_id(embedding_model_id, projection, encoder),
        dimension=dimension,
        collection=name,
        path=path,
        backend=chosen,
    )
    return VectorSpaceStore(
        inner,
        embedding_model_id=embedding_model_id,
        projection_file=projection_file,
        projection=projection,
        encoder=encoder,
    )


def _open_backend(
    settings: Settings,
    *,
    model_id: str,
    dimension: int,
    collection: str,
    path: Path | None,
    backend: str,
) -> CaseBackend:
    qdrant = settings.qdrant
    if path is None and qdrant.url:
        if backend == "matrix":
            raise ConfigurationError(
                "TRIAGE_CASE_STORE=matrix is an embedded store but TRIAGE_QDRANT_URL is set; "
                "unset one of them"
            )
        from triage.engines.retrieval.qdrant_store import open_qdrant_store

        return open_qdrant_store(
            collection=collection,
            model_id=model_id,
            dimension=dimension,
            url=qdrant.url,
            api_key=qdrant.api_key.get_secret_value() if qdrant.api_key else None,
            timeout_s=qdrant.timeout_s,
        )
    from triage.engines.retrieval.edge_store import EdgeCaseStore
    from triage.engines.retrieval.migrate import migrate_legacy

    base = path if path is not None else settings.home
    store = EdgeCaseStore(
        base / "edge" / collection,
        model_id=model_id,
        dimension=dimension,
        exact_below=settings.edge_exact_below,
        hnsw_ef=settings.edge_hnsw_ef,
    )
    try:
        if store.count() == 0:
            migrate_legacy(
                store,
                local_path=path if path is not None else qdrant.local_path,
                matrix_folder=(path if path is not None else settings.home / "matrix") / collection,
                collection=collection,
                matrix_first=backend == "matrix",
            )
    except BaseException:
        store.close()
        raise
    return store
