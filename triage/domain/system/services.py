"""Readiness (what ``/ready`` and ``/metrics`` report) and the model in force (``/v1/model``).

The readiness service exists from the first instant, before the engines are built, so ``/health`` and
``/ready`` answer while the model loads; the wiring attaches the parts once they are built.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from triage.domain.system.metrics import Metrics
from triage.domain.system.schemas import ModelRead, ReadinessRead

if TYPE_CHECKING:
    from triage.domain.cases.history import CaseStoreConnection
    from triage.domain.policy.services import PolicyService
    from triage.engines.classifier import TextClassifier
    from triage.engines.drafting import Drafter


@dataclass(frozen=True)
class ReadyParts:
    """The parts whose health ``/ready`` reports, once built."""

    classifier: TextClassifier
    policy: PolicyService
    connection: CaseStoreConnection
    drafter: Drafter


class ReadinessService:
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self.started = threading.Event()
        """Set when start-up finished, whether it succeeded or not."""
        self.error: str | None = None
        self._parts: ReadyParts | None = None

    def attach(self, parts: ReadyParts) -> None:
        self._parts = parts
        self.started.set()

    def fail(self, error: str) -> None:
        self.error = error
        self.started.set()

    @property
    def ready(self) -> bool:
        return self._parts is not None and self.error is None

    def report(self) -> ReadinessRead:
        return ReadinessRead(ready=self.ready, error=self.error, components=self.components())

    def components(self) -> dict[str, Any]:
        """Each part's health; also sets the ``triage_component_up`` gauges."""
        parts = self._parts
        if parts is None:
            state = self.error or "starting"
            return {name: {"ok": False, "detail": state} for name in ("model", "database", "policy")}
        store = parts.connection.store
        if store is not None:
            health = store.health()
            store_part = {
                "ok": health.ok,
                "mode": health.mode,
                "points": health.points,
                "detail": health.detail,
            }
        else:
            store_part = {"ok": False, "detail": parts.connection.error or "not started"}
        drafting = parts.drafter.health()
        components: dict[str, dict[str, Any]] = {
            "model": {"ok": True, "version": parts.classifier.version},
            "database": {"ok": True},
            "policy": {"ok": True, "version": parts.policy.current.version_hash},
            "case_store": store_part,
            "drafting": drafting,
        }
        for name, part in components.items():
            if "ok" in part:
                self.metrics.component_up.labels(name).set(1 if part["ok"] else 0)
        self.metrics.llm_breaker_open.set(1 if drafting.get("llm") == "open" else 0)
        return components


class ModelService:
    """The classifier in force, as ``/v1/model`` shows it."""

    def __init__(self, classifier: TextClassifier) -> None:
        self.classifier = classifier

    def read(self) -> ModelRead:
        meta = self.classifier.metadata
        return ModelRead(
            version=self.classifier.version,
            embedding_model=self.classifier.embedding_model_id,
            labels=list(self.classifier.labels),
            metrics=meta.get("metrics", {}),
            calibration=meta.get("calibration", {}),
            recipe=meta.get("recipe"),
            trained_rows=meta.get("rows"),
            training_data_sha256=meta.get("training_data_sha256"),
        )
