"""HTTP surface of the policy domain."""

from __future__ import annotations

import asyncio

from litestar import Controller, get, post

from triage.domain.dependencies import CurrentActor, PolicyServiceDep
from triage.domain.policy.schemas import PolicyRead


class PolicyController(Controller):
    tags = ["policy"]

    @get("/v1/policy", summary="The policy in force")
    async def policy(self, policy_service: PolicyServiceDep) -> PolicyRead:
        return policy_service.read()

    @post("/v1/policy/reload", summary="Reload the policy file now (audited)", status_code=200)
    async def reload_policy(self, caller: CurrentActor, policy_service: PolicyServiceDep) -> PolicyRead:
        await asyncio.to_thread(policy_service.reload, caller)
        return policy_service.read()
