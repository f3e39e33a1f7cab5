"""The audit view for compliance: the log filtered, told as a story in plain language, the chain's
verification status, and exports (the API's signed JSONL and CSV)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Controller, Request, get
from litestar.params import Parameter
from litestar.response import Stream, Template

from triage.core.errors import InvalidInput
from triage.domain.audit.controllers import EXPORT_MEDIA_TYPES
from triage.domain.audit.schemas import AuditFilters, ExportFormat
from triage.domain.dependencies import AuditServiceDep, CurrentActor
from triage.ui.pages import may_open, page
from triage.ui.story import story

FILTER_NAMES = ("case_id", "order_id", "actor", "action", "since", "until")
PAGE_SIZE = 100


def _time(name: str, value: str) -> datetime | None:
    """A ``datetime-local`` value (no offset) read as UTC."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(f"{name} must be a date and time such as 2026-05-01T08:00") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_filters(params: dict[str, str]) -> AuditFilters:
    return AuditFilters(
        case_id=params["case_id"] or None,
        order_id=params["order_id"] or None,
        actor=params["actor"] or None,
        action=params["action"] or None,
        since=_time("since", params["since"]),
        until=_time("until", params["until"]),
    )


def _params(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {name: request.query_params.get(name, "").strip() for name in FILTER_NAMES}


class AuditPageController(Controller):
    include_in_schema = False

    @get("/audit")
    async def audit_page(
        self,
        request: Request[Any, Any, Any],
        caller: CurrentActor,
        audit_service: AuditServiceDep,
        cursor: str | None = None,
    ) -> Template:
        params = _params(request)
        kept = urlencode({k: v for k, v in params.items() if v})
        context: dict[str, Any] = {
            "params": params,
            "exports": {
                fmt: f"/ui/audit/export?{urlencode({'format': fmt})}&{kept}" for fmt in ("jsonl", "csv")
            },
            "may_export": may_open(caller, "/ui/audit/export"),
        }
        verify = (
            await asyncio.to_thread(audit_service.verify) if may_open(caller, "/v1/audit/verify") else None
        )
        try:
            filters = parse_filters(params)
            result = await asyncio.to_thread(audit_service.query, filters, cursor=cursor, limit=PAGE_SIZE)
        except InvalidInput as exc:
            return page(
                request, "audit.html", status_code=422, error=exc.detail, verify=verify, lines=[], **context
            )
        next_url = (
            f"/ui/audit?{kept}&{urlencode({'cursor': result.next_cursor})}" if result.next_cursor else None
        )
        lines = story(result.items)
        return page(
            request, "audit.html", error=None, verify=verify, lines=lines, next_url=next_url, **context
        )

    @get("/audit/export")
    async def export(
        self,
        request: Request[Any, Any, Any],
        audit_service: AuditServiceDep,
        fmt: Annotated[ExportFormat, Parameter(query="format")] = "jsonl",
    ) -> Stream:
        filters = parse_filters(_params(request))
        chunks = await asyncio.to_thread(audit_service.export, fmt, filters)
        headers = {"Content-Disposition": f'attachment; filename="audit-log.{fmt}"'}
        return Stream(chunks, media_type=EXPORT_MEDIA_TYPES[fmt], headers=headers)
