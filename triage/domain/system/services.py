"""Readiness (what ``/ready`` and ``/metrics`` report) and the model in force (``/v1/model``).

The readiness service exists from the first instant, before the engines are built, so ``/health`` and
``/ready`` answer while the model loads; the wiring attaches the parts once they are built.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from triage.core.errors import TriageError
from triage.domain.system.metrics import Metrics
from triage.domain.system.schemas import ModelRead, ReadinessRead

if TYPE_CHECKING:
    from collections.abc import Callable

    from triage.domain.models.slot import ModelSlot
    from triage.domain.policy.services import PolicyService
    from triage.engines.drafting import Drafter


@dataclass(frozen=True)
class ReadyParts:
    """The parts whose health ``/ready`` reports, once built."""

    models: ModelSlot
    policy: PolicyService
    drafter: Drafter
    model_job: Callable[[], dict[str, Any] | None] | None = None
    """The latest background model job, as ``/ready`` shows it (never makes ``/ready`` fail)."""


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
        serving = parts.models.current
        store = serving.connection.store
        if store is not None:
            health = store.health()
            store_part = {
                "ok": health.ok,
                "mode": health.mode,
                "points": health.points,
                "detail": health.detail,
            }
        else:
            store_part = {"ok": False, "detail": serving.connection.error or "not started"}
        store_part["collection"] = serving.collection
        drafting = parts.drafter.health()
        components: dict[str, dict[str, Any]] = {
            "model": _model_part(parts.models),
            "database": {"ok": True},
            "policy": {"ok": True, "version": parts.policy.current.version_hash},
            "case_store": store_part,
            "drafting": drafting,
        }
        if parts.model_job is not None:
            components["model_job"] = _model_job_part(parts.model_job)
        for name, part in components.items():
            if "ok" in part:
                self.metrics.component_up.labels(name).set(1 if part["ok"] else 0)
        self.metrics.llm_breaker_open.set(1 if drafting.get("llm") == "open" else 0)
        return components


def _model_job_part(read: Callable[[], dict[str, Any] | None]) -> dict[str, Any]:
    """The background model job's state; a database that cannot say is reported here, never raised (the job
    never makes /ready or /metrics fail)."""
    try:
        return read() or {"status": "none"}
    except Exception as exc:  # noqa: BLE001 - reported, not raised: the probe answers whatever the job table does
        detail = exc.detail if isinstance(exc, TriageError) else f"{type(exc).__name__}: {exc}"
        return {"status": "unknown", "detail": f"the job's state could not be read: {detail}"}


def _model_part(models: ModelSlot) -> dict[str, Any]:
    serving = models.current
    part: dict[str, Any] = {"ok": True, "version": serving.classifier.version, "id": serving.version_id}
    if models.error:
        part["detail"] = models.error
    return part


class ModelService:
    """The classifier in force, as ``/v1/model`` shows it (read from the model slot, so it follows a swap)."""

    def __init__(self, models: ModelSlot) -> None:
        self.models = models

    def read(self) -> ModelRead:
        serving = self.models.current
        classifier = serving.classifier
        meta = classifier.metadata
        return ModelRead(
            id=serving.version_id,
            collection=serving.collection,
            version=classifier.version,
            embedding_model=classifier.embedding_model_id,
            labels=list(classifier.labels),
            metrics=meta.get("metrics", {}),
            calibration=meta.get("calibration", {}),
            recipe=meta.get("recipe"),
            trained_rows=meta.get("rows"),
            training_data_sha256=meta.get("training_data_sha256"),
        )
