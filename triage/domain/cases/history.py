"""The history collection as the cases domain sees it: a connection that recovers, and resolved cases joining it.

A case store that cannot be reached at start-up is not fatal: triage answers degraded, and the connection is
retried in the background (``CaseStoreConnection.reconnect``) until similar cases come back without a restart.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from triage.core.actors import Actor
from triage.core.errors import UpstreamUnavailable
from triage.core.events import classification_text
from triage.domain.cases.schemas import ResolutionCreate, TriageCase
from triage.domain.cases.services import CaseService
from triage.engines.retrieval import HistoricalCase, vectors_for

if TYPE_CHECKING:
    from triage.domain.models.slot import ModelSlot
    from triage.engines.embedder import Embedder
    from triage.engines.retrieval import CaseStore

log = logging.getLogger("triage")


class CaseStoreConnection:
    """The case store in use, or why there is none; ``reconnect`` opens it when it was unavailable."""

    def __init__(self, open_store: Callable[[], CaseStore], collection: str | None = None) -> None:
        self._open = open_store
        self.collection = collection
        """The collection's name, when known (a model swap reuses an open connection to the same one)."""
        self._lock = threading.Lock()
        self.store: CaseStore | None = None
        self.error: str | None = "not connected yet"

    def reconnect(self) -> bool:
        """Open the store unless it is open already; True when it is available afterwards."""
        with self._lock:
            if self.store is not None:
                return True
            try:
                self.store = self._open()
            except UpstreamUnavailable as exc:
                if self.error != exc.detail:
                    log.warning("case store unavailable, triage runs degraded: %s", exc.detail)
                self.error = exc.detail
                return False
            if self.error != "not connected yet":
                log.info("case store available again")
            self.error = None
            return True

    def close(self) -> None:
        with self._lock:
            if self.store is not None:
                self.store.close()
            self.store = None
            self.error = "closed"


class CaseHistory:
    """Records a case's final outcome, then adds the resolved case to the history collection in force (that of
    the model version serving now)."""

    def __init__(self, cases: CaseService, models: ModelSlot, embedder: Embedder) -> None:
        self.cases = cases
        self.models = models
        self.embedder = embedder

    def resolve(self, case_id: str, body: ResolutionCreate, actor: Actor) -> tuple[TriageCase, bool]:
        """Store the outcome once (``(case, created)``), then index the case so the next similar event finds
        it. Also on an identical repeat: the upsert is idempotent and indexes a case the store missed before."""
        case, created = self.cases.record_resolution(case_id, body, actor)
        self.add(case, body)
        return case, created

    def add(self, case: TriageCase, body: ResolutionCreate) -> None:
        """Index a resolved case; on a store outage it is logged, and repeating the resolution indexes it."""
        store = self.models.current.connection.store
        if store is None:
            log.warning("case %s resolved but not indexed: the case store is unavailable", case.case_id)
            return
        event = self.cases.get_event(case.case_id)
        text = classification_text(event)
        historical = HistoricalCase(
            case_id=case.case_id,
            label=case.classification.label,
            text=text,
            summary=event.description[:280],
            resolution=body.resolution,
            resolution_action=body.resolution_action,
            outcome=body.outcome,
            hours_to_resolve=body.hours_to_resolve,
            customer_id=event.order.customer_id,
            site=event.order.site,
            source_system=event.source_system.value,
            resolved_at=datetime.now(UTC),
        )
        try:
            store.upsert([historical], vectors_for(store, self.embedder, [text]))
        except UpstreamUnavailable as exc:
            log.warning("case %s resolved but not indexed: %s", case.case_id, exc.detail)
