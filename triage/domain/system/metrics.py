"""Prometheus metrics of the service, in their own registry so several apps in one process don't clash."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

if TYPE_CHECKING:
    from triage.domain.cases.schemas import TriageCase


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

    def observe(self, case: TriageCase, created: bool) -> None:
        if not created:
            self.triage_replays.inc()
            return
        self.triage_total.labels(case.gate.decision.value).inc()
        for part in case.degraded:
            self.degraded_total.labels(part).inc()
