"""Similar historical cases and the resolution path they point to.

Stores are imported lazily by ``open_case_store`` (qdrant-client is heavy); this package's import is cheap.
"""

from triage.engines.retrieval.indexing import index_cases, learn_and_index, vectors_for
from triage.engines.retrieval.models import (
    CaseBackend,
    CaseFilters,
    CaseStore,
    HistoricalCase,
    IndexSummary,
    Neighbour,
    StoreHealth,
    point_id,
)
from triage.engines.retrieval.resolution import ResolutionVote, predict_resolution
from triage.engines.retrieval.stores import BACKENDS, open_case_store

__all__ = [
    "BACKENDS",
    "CaseBackend",
    "CaseFilters",
    "CaseStore",
    "HistoricalCase",
    "IndexSummary",
    "Neighbour",
    "ResolutionVote",
    "StoreHealth",
    "index_cases",
    "learn_and_index",
    "open_case_store",
    "point_id",
    "predict_resolution",
    "vectors_for",
]
