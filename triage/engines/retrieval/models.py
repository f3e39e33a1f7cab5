"""The values the case store deals in, and the ports: ``CaseStore`` (what the service uses) over a
``CaseBackend`` (where the vectors live).

A ``HistoricalCase`` is what gets indexed (one resolved exception, or one plain ``text,label`` row); a
``Neighbour`` is what a search returns. The payload helpers are the one place that decides how a case is
stored, so every backend (Qdrant Edge in process, a Qdrant server or cluster) reads back the same thing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from triage.core.hashing import sha256_text

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from triage.engines.datasets import LabelledText
    from triage.engines.embedder import Embedder
    from triage.engines.retrieval.metric import Projection

SUMMARY_CHARS = 200
# Fixed namespace: point ids are the same on every machine, so a re-index overwrites, never duplicates.
CASE_NAMESPACE = uuid.UUID("3c8a5a8e-5f59-4d52-9a43-7c1f0b7e2a11")
# Payload fields the stores can filter by (Qdrant gets a keyword index on each).
KEYWORD_FIELDS = ("case_id", "label", "category", "customer_id", "site", "source_system")
DATETIME_FIELDS = ("resolved_at",)


def point_id(case_id: str) -> str:
    """The store's id for a case: a UUID5 of the case id (Qdrant accepts only UUIDs and integers)."""
    return str(uuid.uuid5(CASE_NAMESPACE, case_id))


def _optional_str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _optional_float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _optional_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None


def _summary(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SUMMARY_CHARS else flat[: SUMMARY_CHARS - 1].rstrip() + "…"


@dataclass(frozen=True)
class HistoricalCase:
    """One resolved case as the history collection stores it."""

    case_id: str
    label: str
    text: str
    summary: str
    resolution: str
    resolution_action: str | None
    outcome: str | None
    hours_to_resolve: float | None
    customer_id: str | None
    site: str | None
    source_system: str | None
    resolved_at: datetime | None

    @classmethod
    def from_labelled(cls, row: LabelledText, index: int) -> HistoricalCase:
        """A case from a shipped-history line or a plain ``text,label`` row.

        Rows without an id get a stable one from their text, label and position, so indexing the same file
        twice gives the same ids.
        """
        record = row.record
        event = record.get("event") if isinstance(record.get("event"), dict) else None
        order = event.get("order") if event and isinstance(event.get("order"), dict) else {}
        description = str(event.get("description") or "") if event else ""
        case_id = row.case_id or "h-" + sha256_text(f"{row.text}\0{row.label}\0{index}")[:24]
        return cls(
            case_id=case_id,
            label=row.label,
            text=row.text,
            summary=_summary(description or row.text),
            resolution=str(record.get("resolution") or ""),
            resolution_action=_optional_str(record.get("resolution_action")),
            outcome=_optional_str(record.get("outcome")),
            hours_to_resolve=_optional_float(record.get("hours_to_resolve")),
            customer_id=_optional_str(order.get("customer_id")),
            site=_optional_str(order.get("site")),
            source_system=_optional_str(event.get("source_system")) if event else None,
            resolved_at=_optional_datetime(record.get("resolved_at")),
        )

    def payload(self) -> dict[str, Any]:
        """The JSON payload stored with the vector (``category`` mirrors ``label`` for filter names)."""
        return {
            "case_id": self.case_id,
            "label": self.label,
            "category": self.label,
            "text": self.text,
            "summary": self.summary,
            "resolution": self.resolution,
            "resolution_action": self.resolution_action,
            "outcome": self.outcome,
            "hours_to_resolve": self.hours_to_resolve,
            "customer_id": self.customer_id,
            "site": self.site,
            "source_system": self.source_system,
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
        }


@dataclass(frozen=True)
class CaseFilters:
    """Optional equality filters on a search: same customer, same site, same category."""

    customer_id: str | None = None
    site: str | None = None
    label: str | None = None

    def conditions(self) -> dict[str, str]:
        """The set filters as ``payload field -> required value``."""
        wanted = {"customer_id": self.customer_id, "site": self.site, "label": self.label}
        return {key: value for key, value in wanted.items() if value is not None}


@dataclass(frozen=True)
class Neighbour:
    """One similar historical case, as the triage response shows it."""

    case_id: str
    score: float
    label: str
    summary: str
    resolution: str
    resolution_action: str | None
    outcome: str | None
    hours_to_resolve: float | None

    @classmethod
    def from_payload(cls, payload: dict[str, Any], score: float) -> Neighbour:
        return cls(
            case_id=str(payload.get("case_id") or ""),
            score=float(score),
            label=str(payload.get("label") or ""),
            summary=str(payload.get("summary") or ""),
            resolution=str(payload.get("resolution") or ""),
            resolution_action=_optional_str(payload.get("resolution_action")),
            outcome=_optional_str(payload.get("outcome")),
            hours_to_resolve=_optional_float(payload.get("hours_to_resolve")),
        )


@dataclass(frozen=True)
class StoreHealth:
    """What ``/ready`` shows about the case store."""

    ok: bool
    mode: str
    points: int | None
    detail: str


@dataclass(frozen=True)
class IndexSummary:
    count: int
    seconds: float
    skipped: int


class CaseCollection(Protocol):
    """What every case store does with vectors already in its collection's space.

    Every failure of the underlying store (unreachable, timing out, closed) surfaces as
    ``UpstreamUnavailable`` so the caller can degrade instead of failing the request.
    """

    model_id: str
    """The vector space the collection records (the embedding model, plus any learnt part's digest)."""

    def search(
        self, vector: NDArray[np.float32], *, k: int, filters: CaseFilters | None = None
    ) -> list[Neighbour]: ...

    def upsert(self, cases: Sequence[HistoricalCase], vectors: NDArray[np.float32]) -> int: ...

    def existing(self, case_ids: Sequence[str]) -> set[str]:
        """The subset of ``case_ids`` already stored (used to resume an interrupted index run)."""
        ...

    def count(self) -> int: ...

    def optimize(self) -> None:
        """Build what fast search needs after a bulk upsert (the embedded store's HNSW index; a server does
        this by itself). Slow at scale: indexing commands call it, requests never do."""
        ...

    def health(self) -> StoreHealth: ...

    def drop(self) -> None:
        """Delete the whole collection (throw-away evaluation collections); the store is unusable after."""
        ...

    def close(self) -> None: ...


class CaseBackend(CaseCollection, Protocol):
    """Where a collection's vectors live: a Qdrant Edge shard (embedded) or a collection on a Qdrant server."""

    mode: str
    """``local`` (Qdrant Edge in process) or ``server``: shown by ``/ready``."""

    def rebind(self, model_id: str) -> None:
        """Record another vector space on the still empty collection (``ConfigurationError`` once filled)."""
        ...


class CaseStore(CaseCollection, Protocol):
    """The history collection as the service uses it: a backend plus the vector space its cases live in.

    The space is the served embedder's (frozen), or one learnt from the history (a tuned encoder, or a linear
    projection); callers never need to know which: ``vectors_for`` gives the vectors ``search`` and ``upsert``
    expect.
    """

    def vectors_for(self, embedder: Embedder, texts: list[str]) -> NDArray[np.float32]:
        """Vectors of ``texts`` in this collection's space, from ``embedder`` or the space's tuned encoder."""
        ...

    def prepare(self, embedder: Embedder) -> None:
        """Build what ``vectors_for`` needs now (at start-up) rather than inside the first request."""
        ...

    def adopt_space(
        self,
        projection: Projection | None,
        encoder: dict[str, NDArray[np.float32]] | None = None,
        tuned: Embedder | None = None,
    ) -> None:
        """Index and search in this learnt space from now on; only while the collection is empty."""
        ...
