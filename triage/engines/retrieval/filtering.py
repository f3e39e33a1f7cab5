"""What the two Qdrant paths (Edge embedded, qdrant-client for a server or cluster) share: the payload indexes,
the filters built from ``CaseFilters``, and the refusal of a collection made in another vector space.

Both libraries spell filters the same way (``Filter(must=[FieldCondition(key=..., match=MatchValue(...))])``),
so one function builds them from whichever ``models`` module is passed.
"""

from __future__ import annotations

from typing import Any

from triage.engines.retrieval.models import DATETIME_FIELDS, KEYWORD_FIELDS, CaseFilters

__all__ = [
    "DATETIME_FIELDS",
    "KEYWORD_FIELDS",
    "LOCK_HINT",
    "build_filter",
    "mismatch_message",
    "same_model",
]

LOCK_HINT = (
    "Only one process may open an embedded store folder: stop the other triage process (for example a "
    "running `triage serve`), give this one another TRIAGE_HOME, or set TRIAGE_QDRANT_URL to a Qdrant "
    "server that several processes can share."
)


def build_filter(models: Any, filters: CaseFilters | None) -> Any:
    """``models.Filter`` requiring every set field of ``filters`` (``None`` when none is set)."""
    conditions = (filters or CaseFilters()).conditions()
    if not conditions:
        return None
    return models.Filter(
        must=[
            models.FieldCondition(key=key, match=models.MatchValue(value=value))
            for key, value in conditions.items()
        ]
    )


def same_model(recorded: str, served: str) -> bool:
    """Whether two vector-space ids differ only in the part learnt from the history (``+tuned:``, ``+proj:``)."""
    return recorded.split("+", 1)[0] == served.split("+", 1)[0]


def mismatch_message(collection: str, recorded: str, served: str) -> str:
    if same_model(recorded, served):
        return (
            f"the case collection {collection!r} holds vectors in the space {recorded!r}, learnt from the history, "
            f"but the files under $TRIAGE_HOME/projections/ describe {served!r} (missing, or from another "
            "collection). Restore that collection's files, or re-index into a new collection "
            "(TRIAGE_QDRANT_COLLECTION=<new name>, then `triage index --data FILE`)."
        )
    return (
        f"the case collection {collection!r} holds vectors made by embedding model {recorded!r}, but this "
        f"service embeds with {served!r}; mixing them would return meaningless neighbours. Re-index the "
        "history into a new collection (TRIAGE_QDRANT_COLLECTION=<new name>, then `triage index --data FILE`), "
        "or delete the old collection and run `triage bootstrap`, or set TRIAGE_EMBEDDING_MODEL back to "
        f"{recorded!r}."
    )
