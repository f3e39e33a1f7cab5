"""HTTP surface of the cases domain: triage an event, read cases, record the final resolution."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.params import Parameter

from triage.core.actors import Actor
from triage.core.events import ExceptionEvent
from triage.domain.cases.schemas import ResolutionCreate, TriageCase
from triage.domain.cases.schemas_page import CasePage, SimilarScope
from triage.domain.system.runtime import Runtime


class CaseController(Controller):
    tags = ["cases"]

    @post("/v1/exceptions", summary="Triage one exception event", status_code=201)
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

    @get("/v1/cases", summary="Cases, newest first, cursor-paginated")
    async def list_cases(
        self,
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
            cursor=cursor,
            limit=limit,
        )
        return CasePage(items=cases, next_cursor=next_cursor)

    @get("/v1/cases/{case_id:str}", summary="One case")
    async def get_case(self, case_id: str, runtime: Runtime) -> TriageCase:
        return await asyncio.to_thread(runtime.require_cases().get, case_id)

    @post(
        "/v1/cases/{case_id:str}/resolution", summary="Record the final outcome; the case joins the history"
    )
    async def record_resolution(
        self, request: Request[Actor, Any, State], case_id: str, data: ResolutionCreate, runtime: Runtime
    ) -> Response[TriageCase]:
        case, created = await runtime.record_resolution(case_id, data, request.user)
        return Response(case, status_code=201 if created else 200)
