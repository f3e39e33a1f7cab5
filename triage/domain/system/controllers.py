"""Liveness, readiness, metrics and the model in force."""

from __future__ import annotations

import asyncio

from litestar import Controller, MediaType, Response, get
from prometheus_client import generate_latest

from triage.domain.dependencies import MetricsDep, ModelServiceDep, ReadinessDep
from triage.domain.system.schemas import ModelRead, ReadinessRead


class SystemController(Controller):
    tags = ["system"]

    @get("/health", opt={"public": True}, summary="Liveness")
    async def health(self) -> dict[str, str]:
        return {"status": "ok"}

    @get("/ready", opt={"public": True}, summary="Readiness, part by part")
    async def ready(self, readiness: ReadinessDep) -> Response[ReadinessRead]:
        body = await asyncio.to_thread(readiness.report)
        return Response(body, status_code=200 if body.ready else 503)

    @get("/metrics", opt={"public": True}, media_type=MediaType.TEXT, summary="Prometheus metrics")
    async def metrics(self, readiness: ReadinessDep, metrics: MetricsDep) -> Response[bytes]:
        await asyncio.to_thread(readiness.components)
        return Response(generate_latest(metrics.registry), media_type="text/plain; version=0.0.4")

    @get("/v1/model", summary="The classifier in force")
    async def model(self, model_service: ModelServiceDep) -> ModelRead:
        return model_service.read()
