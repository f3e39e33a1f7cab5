"""Liveness, readiness, metrics and the versions in force."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.datastructures import State
from prometheus_client import generate_latest

from triage.core.actors import Actor
from triage.domain.system.runtime import Runtime
from triage.domain.system.schemas import ModelRead, PolicyRead, ReadinessRead


class SystemController(Controller):
    tags = ["system"]

    @get("/health", opt={"public": True}, summary="Liveness")
    async def health(self) -> dict[str, str]:
        return {"status": "ok"}

    @get("/ready", opt={"public": True}, summary="Readiness, part by part")
    async def ready(self, runtime: Runtime) -> Response[ReadinessRead]:
        body = ReadinessRead(
            ready=runtime.ready, error=runtime.startup_error, components=runtime.components()
        )
        return Response(body, status_code=200 if runtime.ready else 503)

    @get("/metrics", opt={"public": True}, media_type=MediaType.TEXT, summary="Prometheus metrics")
    async def metrics(self, runtime: Runtime) -> Response[bytes]:
        await asyncio.to_thread(runtime.components)
        return Response(generate_latest(runtime.metrics.registry), media_type="text/plain; version=0.0.4")

    @get("/v1/model", summary="The classifier in force")
    async def model(self, runtime: Runtime) -> ModelRead:
        return ModelRead.from_runtime(runtime)

    @get("/v1/policy", summary="The policy in force")
    async def policy(self, runtime: Runtime) -> PolicyRead:
        return PolicyRead.from_runtime(runtime)

    @post("/v1/policy/reload", summary="Reload the policy file now (audited)", status_code=200)
    async def reload_policy(self, request: Request[Actor, Any, State], runtime: Runtime) -> PolicyRead:
        await asyncio.to_thread(runtime.reload_policy, request.user)
        return PolicyRead.from_runtime(runtime)
