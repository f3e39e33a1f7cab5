"""The case page and its forms: decide an item (approve, reject, edit with a live re-check), approve
everything the caller may decide, re-label. Each form calls the service its API route calls, with the caller,
so the page can do exactly what the API lets the caller do."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import FormMultiDict
from litestar.response import Redirect, Template
from pydantic import ValidationError

from triage.core.actors import Actor
from triage.core.errors import InvalidInput, TriageError
from triage.core.events import ExceptionEvent
from triage.core.paging import MAX_PAGE
from triage.core.vocabulary import Decision
from triage.domain.auth.policy import may_see_team
from triage.domain.cases.relabel import RelabelCreate
from triage.domain.cases.schemas import FindingRead, TriageCase
from triage.domain.cases.services import CaseService
from triage.domain.dependencies import (
    CaseServiceDep,
    CurrentActor,
    RelabelServiceDep,
    ReviewQueueDep,
    ReviewServiceDep,
)
from triage.domain.reviews.queue import ClaimState, QueueFilters, ReviewQueue
from triage.domain.reviews.schemas import DecisionCreate, EditCheck, ReviewItemRead
from triage.ui.case_view import draft_views, findings_of, highlight, item_names, pending_items, timeline
from triage.ui.pages import fragment, may_open, page

MAX_QUEUE_PAGES = 10
DONE = {
    Decision.APPROVE: "approved",
    Decision.REJECT: "rejected",
    Decision.EDIT_AND_APPROVE: "edited",
}


@dataclass
class FormState:
    """What a refused form sent, shown again with the reason it was refused."""

    error: str
    item_id: str | None = None
    edited_text: str | None = None
    reason: str | None = None
    findings: list[FindingRead] = field(default_factory=list)


def _invalid(exc: ValidationError) -> InvalidInput:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ())) or "form"
    return InvalidInput(f"{where}: {first.get('msg', 'invalid')}")


def _text(form: FormMultiDict, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) and value.strip() else None


def decision_from(form: FormMultiDict) -> DecisionCreate:
    """The decision a case-page form asks for, validated as the API validates its body."""
    try:
        return DecisionCreate(
            item_id=str(form.get("item_id") or ""),
            expected_version=int(str(form.get("expected_version") or "0")),
            decision=Decision(str(form.get("decision") or "")),
            reason=_text(form, "reason"),
            edited_text=_text(form, "edited_text"),
            acknowledge_findings=form.get("acknowledge_findings") == "yes",
        )
    except ValidationError as exc:
        raise _invalid(exc) from exc
    except ValueError as exc:
        raise InvalidInput(f"the form is incomplete: {exc}") from exc


def relabel_from(form: FormMultiDict) -> RelabelCreate:
    try:
        return RelabelCreate(
            label=str(form.get("label") or ""),
            reason=str(form.get("reason") or ""),
            expected_version=int(str(form.get("expected_version") or "0")),
        )
    except ValidationError as exc:
        raise _invalid(exc) from exc
    except ValueError as exc:
        raise InvalidInput(f"the form is incomplete: {exc}") from exc


async def decidable_items(
    review_queue: ReviewQueue, caller: Actor, case: TriageCase, event: ExceptionEvent
) -> dict[str, ReviewItemRead]:
    """The case's pending items the caller may decide now, as their queue shows them (version, claim, edit).

    The queue has no case filter, so it is asked for the case's category and site, claims included, and read
    until every pending item of the case is found (at most a few pages in practice)."""
    wanted = set(pending_items(case))
    found: dict[str, ReviewItemRead] = {}
    filters = QueueFilters(category=case.classification.label, site=event.order.site, status=ClaimState.ANY)
    cursor: str | None = None
    for _ in range(MAX_QUEUE_PAGES if wanted else 0):
        result = await asyncio.to_thread(review_queue.queue, caller, MAX_PAGE, cursor, filters)
        found.update({item.item_id: item for item in result.items if item.case_id == case.case_id})
        if wanted <= found.keys() or result.next_cursor is None:
            break
        cursor = result.next_cursor
    return found


@dataclass(frozen=True)
class CaseServices:
    cases: CaseService
    queue: ReviewQueue


async def render_case(
    request: Request[Any, Any, Any],
    services: CaseServices,
    caller: Actor,
    case_id: str,
    form: FormState | None = None,
    status_code: int = 200,
) -> Template:
    case = await asyncio.to_thread(services.cases.get, case_id, caller)
    event = await asyncio.to_thread(services.cases.get_event, case_id, caller)
    decidable = await decidable_items(services.queue, caller, case, event)
    names = item_names(case)
    return page(
        request,
        "case.html",
        status_code=status_code,
        case=case,
        event=event,
        drafts=draft_views(case, decidable),
        decidable=decidable,
        names=names,
        story=timeline(case, names),
        labels=sorted(services.queue.known_labels or ()),
        may_decide=may_open(caller, "/ui/cases/{case_id}/decisions", "POST"),
        may_relabel=may_open(caller, "/ui/cases/{case_id}/relabel", "POST"),
        form=form,
        form_segments=highlight(form.edited_text, form.findings) if form and form.edited_text else [],
    )


class CasePageController(Controller):
    include_in_schema = False

    @get("/cases/{case_id:str}")
    async def case_page(
        self,
        request: Request[Any, Any, Any],
        case_id: str,
        caller: CurrentActor,
        case_service: CaseServiceDep,
        review_queue: ReviewQueueDep,
    ) -> Template:
        return await render_case(request, CaseServices(case_service, review_queue), caller, case_id)

    @post("/cases/{case_id:str}/decisions")
    async def decide(
        self,
        request: Request[Any, Any, Any],
        case_id: str,
        caller: CurrentActor,
        case_service: CaseServiceDep,
        review_queue: ReviewQueueDep,
        review_service: ReviewServiceDep,
    ) -> Response[Any]:
        await asyncio.to_thread(case_service.get, case_id, caller)  # 404 first, before the form is read
        form = await request.form()
        try:
            body = decision_from(form)
            decided = await asyncio.to_thread(review_service.decide, case_id, body, caller)
        except TriageError as exc:
            if exc.status_code in {401, 404, 503}:
                raise
            state = FormState(
                error=exc.detail,
                item_id=_text(form, "item_id"),
                edited_text=_text(form, "edited_text"),
                reason=_text(form, "reason"),
                findings=findings_of(exc.extra.get("findings") or []),
            )
            services = CaseServices(case_service, review_queue)
            return await render_case(request, services, caller, case_id, state, exc.status_code)
        done = "edit_recorded" if decided.awaiting_second_approval else DONE[body.decision]
        return Redirect(f"/ui/cases/{case_id}?done={done}", status_code=303)

    @post("/cases/{case_id:str}/items/{item_id:str}/check")
    async def check_edit(
        self,
        request: Request[Any, Any, Any],
        case_id: str,
        item_id: str,
        caller: CurrentActor,
        review_service: ReviewServiceDep,
    ) -> Template:
        form = await request.form()
        try:
            text = EditCheck(text=str(form.get("edited_text") or form.get("text") or "")).text
        except ValidationError as exc:
            return fragment(
                "check.html", item_id=item_id, error=_invalid(exc).detail, findings=[], segments=[]
            )
        findings = await asyncio.to_thread(review_service.check_edit, case_id, item_id, text, caller)
        return fragment(
            "check.html", item_id=item_id, error=None, findings=findings, segments=highlight(text, findings)
        )

    @post("/cases/{case_id:str}/approve-all")
    async def approve_all(
        self, case_id: str, caller: CurrentActor, review_service: ReviewServiceDep
    ) -> Response[Any]:
        decided = await asyncio.to_thread(review_service.approve_all, case_id, caller)
        if not decided:
            return Redirect(f"/ui/cases/{case_id}?done=nothing_to_approve", status_code=303)
        return Redirect("/ui/queue?done=approved_all", status_code=303)

    @post("/cases/{case_id:str}/relabel")
    async def relabel(
        self,
        request: Request[Any, Any, Any],
        case_id: str,
        caller: CurrentActor,
        case_service: CaseServiceDep,
        review_queue: ReviewQueueDep,
        relabel_service: RelabelServiceDep,
    ) -> Response[Any]:
        await asyncio.to_thread(case_service.get, case_id, caller)
        form = await request.form()
        try:
            case = await relabel_service.relabel(case_id, relabel_from(form), caller)
        except TriageError as exc:
            if exc.status_code in {401, 404, 503}:
                raise
            state = FormState(error=exc.detail, reason=_text(form, "reason"))
            services = CaseServices(case_service, review_queue)
            return await render_case(request, services, caller, case_id, state, exc.status_code)
        if not may_see_team(caller, case.owner_team):
            return Redirect("/ui/queue?done=relabelled", status_code=303)  # it went to another team
        return Redirect(f"/ui/cases/{case_id}?done=relabelled", status_code=303)
