"""Choosing and opening the case store from settings."""

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

    ``backend`` ``"qdrant"`` (default): embedded local Qdrant under ``path`` or
    ``settings.qdrant.local_path``, or, when no ``path`` is given and ``TRIAGE_QDRANT_URL`` is set, that server
    or cluster. ``"matrix"``: the exact in-process store under ``path`` or ``$TRIAGE_HOME/matrix``. Without
    ``backend`` the setting ``case_store`` decides. Raises ``ConfigurationError`` on a model mismatch or a
    folder already opened by another process.

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
    if backend == "matrix":
        if path is None and qdrant.url:
            raise ConfigurationError(
                "TRIAGE_CASE_STORE=matrix is an embedded store but TRIAGE_QDRANT_URL is set; "
                "unset one of them"
            )
        from triage.engines.retrieval.matrix_store import MatrixCaseStore

        folder = (path or settings.home / "matrix") / collection
        return MatrixCaseStore(folder, model_id=model_id, dimension=dimension)

    from triage.engines.retrieval.qdrant_store import open_qdrant_store

    local_path = path if path is not None else (None if qdrant.url else qdrant.local_path)
    return open_qdrant_store(
        collection=collection,
        model_id=model_id,
        dimension=dimension,
        local_path=local_path,
        url=qdrant.url,
        api_key=qdrant.api_key.get_secret_value() if qdrant.api_key else None,
        timeout_s=qdrant.timeout_s,
    )
