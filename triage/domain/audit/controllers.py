"""HTTP surface of the audit domain, for compliance: query, verify and export the log."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

from litestar import Controller, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter
from litestar.response import Stream

from triage.domain.audit.schemas import AuditFilters, AuditPageRead, ExportFormat, VerifyRead
from triage.domain.dependencies import AuditServiceDep

EXPORT_MEDIA_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv"}


class AuditController(Controller):
    tags = ["audit"]

    @get("/v1/audit", summary="Audit records in sequence order, filtered, cursor-paginated")
    async def query_audit(
        self,
        audit_service: AuditServiceDep,
        case_id: str | None = None,
        order_id: str | None = None,
        actor: Annotated[str | None, Parameter(description="actor subject")] = None,
        action: Annotated[str | None, Parameter(description="dotted action, e.g. item.approved")] = None,
        since: Annotated[datetime | None, Parameter(description="at or after (ISO 8601 with offset)")] = None,
        until: Annotated[datetime | None, Parameter(description="before (ISO 8601 with offset)")] = None,
        cursor: Annotated[str | None, Parameter(description="next_cursor of the previous page")] = None,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
    ) -> AuditPageRead:
        filters = AuditFilters(
            case_id=case_id, order_id=order_id, actor=actor, action=action, since=since, until=until
        )
        return await asyncio.to_thread(audit_service.query, filters, cursor=cursor, limit=limit)

    @get("/v1/audit/verify", summary="Verify the hash chain, its signed head and the anchors")
    async def verify_audit(self, audit_service: AuditServiceDep) -> VerifyRead:
        return await asyncio.to_thread(audit_service.verify)

    @get(
        "/v1/audit/export",
        summary="The whole log as JSONL or CSV, streamed",
        media_type="application/x-ndjson",
        responses={
            200: ResponseSpec(
                str, media_type="application/x-ndjson", description="JSONL (CSV with format=csv)"
            )
        },
    )
    async def export_audit(
        self,
        audit_service: AuditServiceDep,
        fmt: Annotated[ExportFormat, Parameter(query="format")] = "jsonl",
    ) -> Stream:
        headers = {"Content-Disposition": f'attachment; filename="audit-log.{fmt}"'}
        return Stream(audit_service.export(fmt), media_type=EXPORT_MEDIA_TYPES[fmt], headers=headers)
