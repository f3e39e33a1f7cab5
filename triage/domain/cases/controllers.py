"""HTTP surface of the cases domain: triage an event, read cases, record the final resolution."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Response, get, post
from litestar.di import Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Dependency, Parameter

from triage.core.errors import InvalidInput
from triage.core.events import ExceptionEvent
from triage.core.paging import MAX_PAGE
from triage.core.text import query_time
from triage.core.vocabulary import CaseStatus
from triage.domain.auth import visible_teams
from triage.domain.cases.relabel import RelabelCreate
from triage.domain.cases.repositories import CaseFilters
from triage.domain.cases.schemas import ResolutionCreate, TriageCase
from triage.domain.cases.schemas_page import CasePage, SimilarScope
from triage.domain.dependencies import (
    CaseHistoryDep,
    CaseServiceDep,
    CurrentActor,
    MetricsDep,
    RelabelServiceDep,
    TriageFlowDep,
)

NOT_FOUND = {404: ResponseSpec(None, description="No such case (or not one of the caller's teams)")}
CONFLICT = {409: ResponseSpec(None, description="Conflicts with what is already recorded")}


def case_filters(
    caller: CurrentActor,
    status: CaseStatus | None = None,
    label: Annotated[str | None, Parameter(description="a taxonomy label")] = None,
    customer_id: str | None = None,
    team: Annotated[str | None, Parameter(description="the team whose queue holds the case")] = None,
    updated_since: Annotated[
        datetime | None, Parameter(description="only cases changed at or after (ISO 8601 with offset)")
    ] = None,
) -> CaseFilters:
    """The list's filters from its query parameters, limited to the teams the caller may see."""
    try:
        updated_since = query_time(updated_since, "updated_since")
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc
    return CaseFilters(
        status=status,
        label=label,
        customer_id=customer_id,
        team=team,
        updated_since=updated_since,
        visible_teams=visible_teams(caller),
    )


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

    @get(
        "/v1/cases",
        summary="Cases, newest first, cursor-paginated (an agent sees their teams' cases)",
        dependencies={"filters": Provide(case_filters, sync_to_thread=False)},
    )
    async def list_cases(
        self,
        filters: Annotated[CaseFilters, Dependency(skip_validation=True)],
        case_service: CaseServiceDep,
        cursor: str | None = None,
        limit: Annotated[int, Parameter(ge=1, le=MAX_PAGE)] = 50,
    ) -> CasePage:
        cases, next_cursor = await asyncio.to_thread(case_service.list, filters, cursor=cursor, limit=limit)
        return CasePage(items=cases, next_cursor=next_cursor)

    @get(
        "/v1/cases/{case_id:str}",
        summary="One case (ETag: its version; If-None-Match answers 304 when unchanged)",
        responses={
            200: ResponseSpec(TriageCase, description="The case, with its ETag"),
            304: ResponseSpec(None, description="Unchanged since the ETag given"),
            **NOT_FOUND,
        },
    )
    async def get_case(
        self,
        case_id: str,
        caller: CurrentActor,
        case_service: CaseServiceDep,
        if_none_match: Annotated[str | None, Parameter(header="If-None-Match")] = None,
    ) -> Response[Any]:
        case = await asyncio.to_thread(case_service.get, case_id, caller)
        etag = f'"{case.case_id}.{case.version}"'
        if if_none_match is not None and etag in {tag.strip() for tag in if_none_match.split(",")}:
            return Response(None, status_code=304, headers={"ETag": etag})
        return Response(case, headers={"ETag": etag})

    @get(
        "/v1/cases/{case_id:str}/event",
        summary="The event the case was triaged from, the customer's message included (untrusted text)",
        responses=NOT_FOUND,
    )
    async def get_event(
        self, case_id: str, caller: CurrentActor, case_service: CaseServiceDep
    ) -> ExceptionEvent:
        return await asyncio.to_thread(case_service.get_event, case_id, caller)

    @post(
        "/v1/cases/{case_id:str}/relabel",
        summary="Correct the category: re-gates, re-drafts and re-routes the case (audited)",
        status_code=200,
        responses={**NOT_FOUND, **CONFLICT},
    )
    async def relabel(
        self, case_id: str, data: RelabelCreate, caller: CurrentActor, relabel_service: RelabelServiceDep
    ) -> TriageCase:
        return await relabel_service.relabel(case_id, data, caller)

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
