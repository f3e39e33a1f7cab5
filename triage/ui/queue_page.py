"""The queue: items waiting for a human, most urgent first, filtered and counted; claim, release, assign.

The page calls ``ReviewQueue`` exactly as ``GET /v1/reviews`` does, so what an agent is offered here is what the
API offers them: their teams only, items claimed by someone else left out (unless they ask to see them).
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qsl, urlencode

from litestar import Controller, Request, Response, get, post
from litestar.response import Redirect, Template

from triage.core.actors import Role
from triage.core.errors import InvalidInput
from triage.core.paging import MAX_PAGE
from triage.core.vocabulary import ItemKind
from triage.domain.auth.policy import visible_teams
from triage.domain.dependencies import CurrentActor, ReviewQueueDep
from triage.domain.reviews.queue import ClaimState, QueueFilters, ReviewQueue
from triage.ui.pages import may_open, page

QUEUE_PATH = "/ui/queue"
FILTER_NAMES = ("team", "kind", "category", "site", "status", "overdue")
OVERDUE_CHOICES = {"": None, "yes": True, "no": False}


def parse_filters(params: dict[str, str]) -> QueueFilters:
    """The queue's filters from the page's query; ``InvalidInput`` (422) for a value the API would refuse."""
    try:
        kind = ItemKind(params["kind"]) if params.get("kind") else None
        status = ClaimState(params["status"]) if params.get("status") else ClaimState.AVAILABLE
    except ValueError as exc:
        raise InvalidInput(f"unknown filter value: {exc}") from exc
    overdue_text = params.get("overdue", "")
    if overdue_text not in OVERDUE_CHOICES:
        raise InvalidInput(f"overdue must be yes, no or empty, not {overdue_text!r}")
    return QueueFilters(
        team=params.get("team") or None,
        kind=kind,
        category=params.get("category") or None,
        site=(params.get("site") or "").strip() or None,
        status=status,
        overdue=OVERDUE_CHOICES[overdue_text],
    )


def back_to_queue(value: object, done: str | None = None) -> str:
    """The queue URL a form came from (filters kept), with the notice to show; never anywhere else."""
    prefix = QUEUE_PATH + "?"
    query = value[len(prefix) :] if isinstance(value, str) and value.startswith(prefix) else ""
    kept = [(k, v) for k, v in parse_qsl(query) if k in FILTER_NAMES]
    if done:
        kept.append(("done", done))
    return f"{QUEUE_PATH}?{urlencode(kept)}" if kept else QUEUE_PATH


def _choices(queue: ReviewQueue, caller: Any) -> dict[str, list[str]]:
    teams = visible_teams(caller)
    all_teams = sorted(queue.known_teams or ())
    return {
        "team": [t for t in all_teams if teams is None or t in teams],
        "category": sorted(queue.known_labels or ()),
        "kind": [k.value for k in ItemKind],
        "status": [s.value for s in ClaimState],
    }


class QueuePageController(Controller):
    include_in_schema = False

    @get("/queue")
    async def queue_page(
        self,
        request: Request[Any, Any, Any],
        caller: CurrentActor,
        review_queue: ReviewQueueDep,
        cursor: str | None = None,
    ) -> Template:
        params = {name: request.query_params.get(name, "") for name in FILTER_NAMES}
        context: dict[str, Any] = {
            "params": params,
            "choices": _choices(review_queue, caller),
            "here": back_to_queue(str(request.url.path) + "?" + request.url.query),
            "may_claim": may_open(caller, "/ui/reviews/{item_id}/claim", "POST"),
            "may_assign": may_open(caller, "/ui/reviews/{item_id}/assign", "POST"),
            "is_supervisor": caller.role is Role.SUPERVISOR,
        }
        try:
            filters = parse_filters(params)
            result = await asyncio.to_thread(review_queue.queue, caller, MAX_PAGE, cursor, filters)
        except InvalidInput as exc:
            return page(request, "queue.html", status_code=422, error=exc.detail, result=None, **context)
        next_url = None
        if result.next_cursor:
            next_url = f"{QUEUE_PATH}?{urlencode({**params, 'cursor': result.next_cursor})}"
        return page(request, "queue.html", error=None, result=result, next_url=next_url, **context)

    @post("/reviews/{item_id:str}/claim")
    async def claim(
        self,
        request: Request[Any, Any, Any],
        item_id: str,
        caller: CurrentActor,
        review_queue: ReviewQueueDep,
    ) -> Response[Any]:
        await asyncio.to_thread(review_queue.claim, item_id, caller)
        return Redirect(back_to_queue((await request.form()).get("back"), "claimed"), status_code=303)

    @post("/reviews/{item_id:str}/release")
    async def release(
        self,
        request: Request[Any, Any, Any],
        item_id: str,
        caller: CurrentActor,
        review_queue: ReviewQueueDep,
    ) -> Response[Any]:
        await asyncio.to_thread(review_queue.release, item_id, caller)
        return Redirect(back_to_queue((await request.form()).get("back"), "released"), status_code=303)

    @post("/reviews/{item_id:str}/assign")
    async def assign(
        self,
        request: Request[Any, Any, Any],
        item_id: str,
        caller: CurrentActor,
        review_queue: ReviewQueueDep,
    ) -> Response[Any]:
        form = await request.form()
        to = str(form.get("to") or "").strip()
        if not to or len(to) > 128 or not to.isprintable():
            raise InvalidInput("name the reviewer to assign the item to (their API key's subject)")
        await asyncio.to_thread(review_queue.assign, item_id, to, caller)
        return Redirect(back_to_queue(form.get("back"), "assigned"), status_code=303)
