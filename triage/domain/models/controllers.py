"""HTTP surface of the model registry: versions, promotion and rollback (admin), model jobs."""

from __future__ import annotations

import asyncio
from typing import Annotated

from litestar import Controller, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter

from triage.core.paging import MAX_PAGE
from triage.domain.dependencies import CurrentActor, ModelRegistryDep
from triage.domain.models.schemas import (
    ModelJobPage,
    ModelVersionPage,
    ModelVersionRead,
    PromoteCreate,
    PromotionRead,
    RollbackCreate,
)

NOT_FOUND = {404: ResponseSpec(None, description="No such model version")}
CONFLICT = {
    409: ResponseSpec(
        None,
        description="Another promotion or rollback changed the model in force meanwhile, the version is in force "
        "already, or there is no previous version",
    )
}
REFUSED = {
    422: ResponseSpec(
        None,
        description="Refused: validation found it worse than the model in force (`verdict` and `figures` say how), "
        "or its artifact or collection is missing, corrupt or foreign; or the body is invalid",
    )
}


class ModelController(Controller):
    tags = ["models"]

    @get("/v1/models", summary="Model versions, newest first, cursor-paginated, with the one in force")
    async def list_models(
        self,
        model_registry: ModelRegistryDep,
        cursor: str | None = None,
        limit: Annotated[int, Parameter(ge=1, le=MAX_PAGE)] = 50,
    ) -> ModelVersionPage:
        return await asyncio.to_thread(model_registry.versions, cursor, limit)

    @get("/v1/models/jobs", summary="Model jobs (the background tuned model), newest first")
    async def list_jobs(self, model_registry: ModelRegistryDep) -> ModelJobPage:
        return ModelJobPage(items=await asyncio.to_thread(model_registry.jobs, 20))

    @get(
        "/v1/models/{version_id:str}",
        summary="One model version: what it learnt from, its figures",
        responses=NOT_FOUND,
    )
    async def get_model(self, version_id: str, model_registry: ModelRegistryDep) -> ModelVersionRead:
        return await asyncio.to_thread(model_registry.get, version_id)

    @post(
        "/v1/models/{version_id:str}/promote",
        summary="Validate a version against the model in force and put it in force (audited)",
        status_code=200,
        responses=NOT_FOUND | CONFLICT | REFUSED,
    )
    async def promote(
        self, version_id: str, data: PromoteCreate, caller: CurrentActor, model_registry: ModelRegistryDep
    ) -> PromotionRead:
        return await asyncio.to_thread(model_registry.promote, version_id, data, caller)

    @post(
        "/v1/models/rollback",
        summary="Put the previous model version back in force (audited)",
        status_code=200,
        responses=CONFLICT | REFUSED,
    )
    async def rollback(
        self, data: RollbackCreate, caller: CurrentActor, model_registry: ModelRegistryDep
    ) -> PromotionRead:
        return await asyncio.to_thread(model_registry.rollback, data, caller)
