"""HTTP surface of the cases domain: triage an event, read cases, record the final resolution."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter

from triage.core.actors import Actor
from triage.core.errors import NotFound
from triage.core.events import ExceptionEvent
from triage.domain.auth import may_see_team, visible_teams
from triage.domain.cases.schemas import ResolutionCreate, TriageCase
from triage.domain.cases.schemas_page import CasePage, SimilarScope
from triage.domain.system.runtime import Runtime

NOT_FOUND = {404: ResponseSpec(None, description="No such case (or not one of the caller's teams)")}
CONFLICT = {409: ResponseSpec(None, description="Conflicts with what is already recorded")}


async def visible_case(runtime: Runtime, actor: Actor, case_id: str) -> TriageCase:
    """The case, or NotFound when it does not exist or belongs to a team the caller may not see."""
    case = await asyncio.to_thread(runtime.require_cases().get, case_id)
    if not may_see_team(actor, case.owner_team):
        raise NotFound(f"no case {case_id!r}")
    return case


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
        request: Request[Actor, Any, State],
        data: ExceptionEvent,
        runtime: Runtime,
        same_customer: Annotated[bool, Parameter(description="similar cases of this customer only")] = False,
        same_site: Annotated[bool, Parameter(description="similar cases of this site only")] = False,
        same_category: Annotated[
            bool, Parameter(description="similar cases of the predicted label only")
        ] = False,
    ) -> Response[TriageCase]:
        scope = SimilarScope(same_customer=same_customer, same_site=same_site, same_category=same_category)
        case, created = await runtime.require_flow().triage(data, request.user, scope)
        runtime.metrics.observe(case, created)
        return Response(case, status_code=201 if created else 200)

    @get("/v1/cases", summary="Cases, newest first, cursor-paginated (an agent sees their teams' cases)")
    async def list_cases(
        self,
        request: Request[Actor, Any, State],
        runtime: Runtime,
        status: str | None = None,
        label: str | None = None,
        customer_id: str | None = None,
        team: str | None = None,
        cursor: str | None = None,
        limit: Annotated[int, Parameter(ge=1, le=200)] = 50,
    ) -> CasePage:
        cases, next_cursor = await asyncio.to_thread(
            runtime.require_cases().list,
            status=status,
            label=label,
            customer_id=customer_id,
            team=team,
            visible_teams=visible_teams(request.user),
            cursor=cursor,
            limit=limit,
        )
        return CasePage(items=cases, next_cursor=next_cursor)

    @get("/v1/cases/{case_id:str}", summary="One case", responses=NOT_FOUND)
    async def get_case(
        self, request: Request[Actor, Any, State], case_id: str, runtime: Runtime
    ) -> TriageCase:
        return await visible_case(runtime, request.user, case_id)

    @post(
        "/v1/cases/{case_id:str}/resolution", summary="Record the final outcome; the case joins the history"
    )
    async def record_resolution(
        self, request: Request[Actor, Any, State], case_id: str, data: ResolutionCreate, runtime: Runtime
    ) -> Response[TriageCase]:
        case, created = await runtime.record_resolution(case_id, data, request.user)
        return Response(case, status_code=201 if created else 200)
