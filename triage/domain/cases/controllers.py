"""HTTP surface of the cases domain: triage an event, read cases, record the final resolution."""

from __future__ import annotations

import asyncio
from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter

from triage.core.events import ExceptionEvent
from triage.core.paging import MAX_PAGE
from triage.core.vocabulary import CaseStatus
from triage.domain.auth import visible_teams
from triage.domain.cases.schemas import ResolutionCreate, TriageCase
from triage.domain.cases.schemas_page import CasePage, SimilarScope
from triage.domain.dependencies import (
    CaseHistoryDep,
    CaseServiceDep,
    CurrentActor,
    MetricsDep,
    TriageFlowDep,
)

NOT_FOUND = {404: ResponseSpec(None, description="No such case (or not one of the caller's teams)")}
CONFLICT = {409: ResponseSpec(None, description="Conflicts with what is already recorded")}


class CaseController(Controller):
    tags = ["cases"]

    @post(
        "/v1/exceptions",
        summary="Triage one exception event",
        status_code=201,
        responses={
            200: ResponseSpec(
                TriageCase, description="Replay: the same event_id and body were triaged before"
            ),
            **CONFLICT,
        },
    )
    async def triage_exception(
        self,
        data: ExceptionEvent,
        caller: CurrentActor,
        flow: TriageFlowDep,
        metrics: MetricsDep,
        same_customer: Annotated[bool, Parameter(description="similar cases of this customer only")] = False,
        same_site: Annotated[bool, Parameter(description="similar cases of this site only")] = False,
        same_category: Annotated[
            bool, Parameter(description="similar cases of the predicted label only")
        ] = False,
    ) -> Response[TriageCase]:
        scope = SimilarScope(same_customer=same_customer, same_site=same_site, same_category=same_category)
        case, created = await flow.triage(data, caller, scope)
        metrics.observe(case, created)
        return Response(case, status_code=201 if created else 200)

    @get("/v1/cases", summary="Cases, newest first, cursor-paginated (an agent sees their teams' cases)")
    async def list_cases(
        self,
        caller: CurrentActor,
        case_service: CaseServiceDep,
        status: CaseStatus | None = None,
        label: str | None = None,
        customer_id: str | None = None,
        team: str | None = None,
        cursor: str | None = None,
        limit: Annotated[int, Parameter(ge=1, le=MAX_PAGE)] = 50,
    ) -> CasePage:
        cases, next_cursor = await asyncio.to_thread(
            case_service.list,
            status=status,
            label=label,
            customer_id=customer_id,
            team=team,
            visible_teams=visible_teams(caller),
            cursor=cursor,
            limit=limit,
        )
        return CasePage(items=cases, next_cursor=next_cursor)

    @get("/v1/cases/{case_id:str}", summary="One case", responses=NOT_FOUND)
    async def get_case(self, case_id: str, caller: CurrentActor, case_service: CaseServiceDep) -> TriageCase:
        return await asyncio.to_thread(case_service.get, case_id, caller)

    @post(
        "/v1/cases/{case_id:str}/resolution",
        summary="Record the final outcome; the case joins the history",
        responses={**NOT_FOUND, **CONFLICT},
    )
    async def record_resolution(
        self, case_id: str, data: ResolutionCreate, caller: CurrentActor, case_history: CaseHistoryDep
    ) -> Response[TriageCase]:
        case, created = await asyncio.to_thread(case_history.resolve, case_id, data, caller)
        return Response(case, status_code=201 if created else 200)
