"""The model being served, swapped atomically: a request reads the slot once and finishes on what it read.

``ModelSlot.current`` is one immutable ``ServingModel`` (registry id, classifier, the connection to its history
collection). A swap replaces that reference in one assignment, so a request that already holds the old one keeps
classifying and searching with it; the old collection is closed only after a grace period (``close_retired``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from triage.domain.cases.history import CaseStoreConnection
    from triage.engines.classifier import TextClassifier

log = logging.getLogger("triage")


@dataclass(frozen=True)
class ServingModel:
    """One model version as served: its classifier and the history collection searched with it."""

    version_id: str | None
    classifier: TextClassifier
    connection: CaseStoreConnection
    collection: str
    generation: int = 0


@dataclass
class _Retired:
    connection: CaseStoreConnection
    close_after: float


@dataclass
class ModelSlot:
    """Holds the ``ServingModel`` in force; ``error`` says why the last model it was told to load was not."""

    _current: ServingModel
    grace_s: float = 30.0
    clock: Callable[[], float] = time.monotonic
    error: str | None = None
    _retired: list[_Retired] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def current(self) -> ServingModel:
        return self._current

    def swap(self, serving: ServingModel) -> ServingModel:
        """Put ``serving`` in force at once; the old collection (if not shared) closes after the grace period."""
        with self._lock:
            old = self._current
            self._current = serving
            self.error = None
            if old.connection is not serving.connection:
                self._retired.append(_Retired(old.connection, self.clock() + self.grace_s))
        log.info(
            "model %s in force (classifier %s, collection %s); it replaced %s",
            serving.version_id,
            serving.classifier.version[:12],
            serving.collection,
            old.version_id,
        )
        return old

    def swap_generation(self, generation: int) -> None:
        """The pointer moved but still names the version served (e.g. adopted): note the new generation."""
        with self._lock:
            self._current = replace(self._current, generation=generation)

    def connection_for(self, collection: str) -> CaseStoreConnection | None:
        """An open connection to ``collection`` held by the slot (in force or retired), to reuse on a swap."""
        with self._lock:
            if self._current.collection == collection:
                return self._current.connection
            for retired in self._retired:
                if retired.connection.collection == collection:
                    self._retired.remove(retired)
                    return retired.connection
        return None

    def close_retired(self, *, everything: bool = False) -> int:
        """Close the retired collections whose grace period is over; how many were closed."""
        now = self.clock()
        with self._lock:
            due = [r for r in self._retired if everything or r.close_after <= now]
            self._retired = [r for r in self._retired if r not in due]
        for retired in due:
            retired.connection.close()
        return len(due)

    def reconnect(self) -> bool:
        """Reopen the serving collection if it was unavailable (the periodic case-store retry)."""
        return self._current.connection.reconnect()

    def close(self) -> None:
        self.close_retired(everything=True)
        self._current.connection.close()
