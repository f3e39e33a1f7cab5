"""HTTP surface of the review domain: the queue and decisions on items."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter

from triage.core.actors import Actor
from triage.domain.reviews.schemas import DecisionCreate, DecisionRead, ReviewQueueRead
from triage.domain.reviews.services import ReviewService


class ReviewController(Controller):
    tags = ["reviews"]

    @get("/v1/reviews", summary="The review queue, most urgent SLA first")
    async def list_reviews(
        self,
        request: Request[Actor, Any, State],
        review_service: ReviewService,
        cursor: str | None = None,
        limit: Annotated[int, Parameter(ge=1, le=200)] = 50,
    ) -> ReviewQueueRead:
        return await asyncio.to_thread(review_service.queue, request.user, limit, cursor)

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
        self,
        request: Request[Actor, Any, State],
        case_id: str,
        data: DecisionCreate,
        review_service: ReviewService,
    ) -> DecisionRead:
        return await asyncio.to_thread(review_service.decide, case_id, data, request.user)
