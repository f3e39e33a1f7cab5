"""Prometheus metrics of the service, in their own registry so several apps in one process don't clash."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from triage.engines.stages import STAGES

if TYPE_CHECKING:
    from triage.domain.cases.schemas import TriageCase

STAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.triage_total = Counter(
            "triage_requests_total", "Triage calls by gate decision", ["decision"], registry=self.registry
        )
        self.triage_replays = Counter("triage_replays_total", "Idempotent replays", registry=self.registry)
        self.triage_seconds = Histogram(
            "triage_duration_seconds",
            "End-to-end triage latency",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8),
            registry=self.registry,
        )
        self.degraded_total = Counter(
            "triage_degraded_total", "Triage calls with a degraded part", ["part"], registry=self.registry
        )
        self.llm_breaker_open = Gauge(
            "triage_llm_breaker_open", "1 when the LLM circuit breaker is open", registry=self.registry
        )
        self.component_up = Gauge(
            "triage_component_up", "1 when a component is available", ["component"], registry=self.registry
        )
        self.stage_seconds = Histogram(
            "triage_stage_seconds",
            "Time of one triage step (classify excludes embed, the encoder's share; persist includes audit)",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=self.registry,
        )
        self.encoder_batch = Histogram(
            "triage_encoder_batch_texts",
            "Texts per shared encoder pass",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128),
            registry=self.registry,
        )
        self.encoder_pass_seconds = Histogram(
            "triage_encoder_pass_seconds",
            "Time of one encoder pass",
            buckets=STAGE_BUCKETS,
            registry=self.registry,
        )
        self.encoder_rejected = Counter(
            "triage_encoder_rejected_total",
            "Calls refused (503) because the encoder queue was full",
            registry=self.registry,
        )
        self.classified_total = Counter(
            "triage_classified_total",
            "Created cases by category and whether their text was novel (the drift signal: novel / all per category)",
            ["category", "novel"],
            registry=self.registry,
        )
        for name in STAGES:
            self.stage_seconds.labels(name)  # every stage is listed from the start, even at zero

    def observe_stages(self, seconds: dict[str, float], total: float) -> None:
        """One created case's time per stage (``triage.engines.stages``) and end to end."""
        self.triage_seconds.observe(total)
        for name, value in seconds.items():
            self.stage_seconds.labels(name).observe(value)

    def batch(self, texts: int, seconds: float) -> None:
        """One shared encoder pass (the micro-batcher's observer)."""
        self.encoder_batch.observe(texts)
        self.encoder_pass_seconds.observe(seconds)

    def rejected(self) -> None:
        """One call refused by a full encoder queue (the micro-batcher's observer)."""
        self.encoder_rejected.inc()

    def observe(self, case: TriageCase, created: bool) -> None:
        if not created:
            self.triage_replays.inc()
            return
        self.triage_total.labels(case.gate.decision.value).inc()
        classification = case.classification
        self.classified_total.labels(classification.label, str(classification.novel).lower()).inc()
        for part in case.degraded:
            self.degraded_total.labels(part).inc()
