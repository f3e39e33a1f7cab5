"""HTTP surface of the review domain: the queue, claims, and decisions on items."""

from __future__ import annotations

import asyncio
from typing import Annotated

from litestar import Controller, get, post
from litestar.di import Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Dependency, Parameter

from triage.core.paging import MAX_PAGE
from triage.core.vocabulary import ItemKind
from triage.domain.dependencies import CurrentActor, ReviewQueueDep, ReviewServiceDep
from triage.domain.reviews.queue import ClaimState, QueueFilters
from triage.domain.reviews.schemas import (
    ClaimAssign,
    DecisionCreate,
    DecisionRead,
    EditCheck,
    EditCheckRead,
    ReviewItemRead,
    ReviewQueueRead,
)

CLAIMED = {409: ResponseSpec(None, description="Claimed by another reviewer")}


def queue_filters(
    team: str | None = None,
    kind: ItemKind | None = None,
    category: Annotated[str | None, Parameter(description="a taxonomy label")] = None,
    site: str | None = None,
    status: Annotated[ClaimState, Parameter(description="by claim; default: what you may take")] = (
        ClaimState.AVAILABLE
    ),
    overdue: bool | None = None,
) -> QueueFilters:
    return QueueFilters(team=team, kind=kind, category=category, site=site, status=status, overdue=overdue)


class ReviewController(Controller):
    tags = ["reviews"]

    @get(
        "/v1/reviews",
        summary="The review queue: SLA due, severity, then customer tier first; filtered and counted",
        dependencies={"filters": Provide(queue_filters, sync_to_thread=False)},
    )
    async def list_reviews(
        self,
        caller: CurrentActor,
        review_queue: ReviewQueueDep,
        filters: Annotated[QueueFilters, Dependency(skip_validation=True)],
        cursor: str | None = None,
        limit: Annotated[int, Parameter(ge=1, le=MAX_PAGE)] = 50,
    ) -> ReviewQueueRead:
        return await asyncio.to_thread(review_queue.queue, caller, limit, cursor, filters)

    @post(
        "/v1/reviews/{item_id:str}/claim", summary="Take an item (others no longer get it)", responses=CLAIMED
    )
    async def claim(self, item_id: str, caller: CurrentActor, review_queue: ReviewQueueDep) -> ReviewItemRead:
        return await asyncio.to_thread(review_queue.claim, item_id, caller)

    @post("/v1/reviews/{item_id:str}/release", summary="Give an item back", responses=CLAIMED)
    async def release(
        self, item_id: str, caller: CurrentActor, review_queue: ReviewQueueDep
    ) -> ReviewItemRead:
        return await asyncio.to_thread(review_queue.release, item_id, caller)

    @post("/v1/reviews/{item_id:str}/assign", summary="A supervisor gives an item to a reviewer")
    async def assign(
        self, item_id: str, data: ClaimAssign, caller: CurrentActor, review_queue: ReviewQueueDep
    ) -> ReviewItemRead:
        return await asyncio.to_thread(review_queue.assign, item_id, data.to, caller)

    @post(
        "/v1/cases/{case_id:str}/decisions",
        summary="Approve, reject or edit-and-approve one item",
        status_code=201,
        responses={
            403: ResponseSpec(
                None, description="The caller may not decide this item (role, team, limit, four-eyes)"
            ),
            404: ResponseSpec(None, description="No such case or item"),
            409: ResponseSpec(None, description="The item was decided or changed meanwhile, or is claimed"),
        },
    )
    async def decide(
        self, case_id: str, data: DecisionCreate, caller: CurrentActor, review_service: ReviewServiceDep
    ) -> DecisionRead:
        return await asyncio.to_thread(review_service.decide, case_id, data, caller)

    @post(
        "/v1/cases/{case_id:str}/approve-all",
        summary="Approve every pending item of the case the caller may decide now (each audited)",
        status_code=200,
    )
    async def approve_all(
        self, case_id: str, caller: CurrentActor, review_service: ReviewServiceDep
    ) -> list[DecisionRead]:
        return await asyncio.to_thread(review_service.approve_all, case_id, caller)

    @post(
        "/v1/cases/{case_id:str}/items/{item_id:str}/check",
        summary="Fact-check a text as the new text of a draft (the live re-check of an edit)",
        status_code=200,
    )
    async def check_edit(
        self,
        case_id: str,
        item_id: str,
        data: EditCheck,
        caller: CurrentActor,
        review_service: ReviewServiceDep,
    ) -> EditCheckRead:
        findings = await asyncio.to_thread(review_service.check_edit, case_id, item_id, data.text, caller)
        return EditCheckRead(findings=findings)
