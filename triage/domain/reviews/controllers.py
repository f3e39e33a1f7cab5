"""HTTP surface of the review domain: the queue and decisions on items."""

from __future__ import annotations

import asyncio
from typing import Annotated

from litestar import Controller, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter

from triage.core.paging import MAX_PAGE
from triage.domain.dependencies import CurrentActor, ReviewServiceDep
from triage.domain.reviews.schemas import DecisionCreate, DecisionRead, ReviewQueueRead


class ReviewController(Controller):
    tags = ["reviews"]

    @get("/v1/reviews", summary="The review queue, most urgent SLA first")
    async def list_reviews(
        self,
        caller: CurrentActor,
        review_service: ReviewServiceDep,
        cursor: str | None = None,
        limit: Annotated[int, Parameter(ge=1, le=MAX_PAGE)] = 50,
    ) -> ReviewQueueRead:
        return await asyncio.to_thread(review_service.queue, caller, limit, cursor)

    @post(
        "/v1/cases/{case_id:str}/decisions",
        summary="Approve, reject or edit-and-approve one item",
        status_code=201,
        responses={
            403: ResponseSpec(
                None, description="The caller may not decide this item (role, team, limit, four-eyes)"
            ),
            404: ResponseSpec(None, description="No such case or item"),
            409: ResponseSpec(None, description="The item was decided or changed meanwhile"),
        },
    )
    async def decide(
        self, case_id: str, data: DecisionCreate, caller: CurrentActor, review_service: ReviewServiceDep
    ) -> DecisionRead:
        return await asyncio.to_thread(review_service.decide, case_id, data, caller)
