"""HTTP surface of the audit domain, for compliance: query, verify and export the log, publish its keys."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from litestar import Controller, get
from litestar.di import Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, Schema
from litestar.params import Dependency, Parameter
from litestar.response import Stream

from triage.core.errors import InvalidInput
from triage.core.text import query_time
from triage.domain.audit.schemas import (
    AuditFilters,
    AuditPageRead,
    AuditPublicKeysRead,
    ExportFormat,
    VerifyRead,
)
from triage.domain.dependencies import AuditServiceDep

EXPORT_MEDIA_TYPES: dict[ExportFormat, str] = {"jsonl": "application/x-ndjson", "csv": "text/csv"}


def provide_audit_filters(
    case_id: str | None = None,
    order_id: str | None = None,
    actor: Annotated[str | None, Parameter(description="actor subject")] = None,
    action: Annotated[str | None, Parameter(description="dotted action, e.g. item.approved")] = None,
    since: Annotated[datetime | None, Parameter(description="at or after (ISO 8601 with offset)")] = None,
    until: Annotated[datetime | None, Parameter(description="before (ISO 8601 with offset)")] = None,
) -> AuditFilters:
    """The ``filters`` dependency: the query parameters that select audit records."""
    try:
        since, until = query_time(since, "since"), query_time(until, "until")
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc
    return AuditFilters(
        case_id=case_id, order_id=order_id, actor=actor, action=action, since=since, until=until
    )


AuditFiltersDep = Annotated[AuditFilters, Dependency(skip_validation=True)]


@dataclass
class ExportOperation(Operation):
    """The export's 200 answer documented as what it is: JSONL or CSV, chosen by ``format``."""

    def __post_init__(self) -> None:
        ok = (self.responses or {}).get("200")
        if isinstance(ok, OpenAPIResponse):
            ok.description = "JSONL (format=jsonl) or CSV (format=csv): a signed tree head, then the records"
            ok.content = {
                media_type: OpenAPIMediaType(
                    schema=Schema(type=OpenAPIType.STRING, description=f"{fmt} export")
                )
                for fmt, media_type in EXPORT_MEDIA_TYPES.items()
            }


class AuditController(Controller):
    tags = ["audit"]
    dependencies = {"filters": Provide(provide_audit_filters, sync_to_thread=False)}

    @get("/v1/audit", summary="Audit records in sequence order, filtered, cursor-paginated")
    async def query_audit(
        self,
        audit_service: AuditServiceDep,
        filters: AuditFiltersDep,
        cursor: Annotated[str | None, Parameter(description="next_cursor of the previous page")] = None,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
    ) -> AuditPageRead:
        return await asyncio.to_thread(audit_service.query, filters, cursor=cursor, limit=limit)

    @get("/v1/audit/verify", summary="Verify the hash chain, its signed head and the anchors")
    async def verify_audit(self, audit_service: AuditServiceDep) -> VerifyRead:
        return await asyncio.to_thread(audit_service.verify)

    @get("/v1/audit/public-key", summary="The Ed25519 public keys that sign audit tree heads, with validity")
    async def audit_public_keys(self, audit_service: AuditServiceDep) -> AuditPublicKeysRead:
        return await asyncio.to_thread(audit_service.public_keys)

    @get(
        "/v1/audit/export",
        summary="The log, or the records matching the filters, with a signed tree head and inclusion proofs",
        operation_class=ExportOperation,
        responses={
            409: ResponseSpec(None, description="The log fails its own check: no head is signed over it")
        },
    )
    async def export_audit(
        self,
        audit_service: AuditServiceDep,
        filters: AuditFiltersDep,
        fmt: Annotated[ExportFormat, Parameter(query="format")] = "jsonl",
    ) -> Stream:
        chunks = await asyncio.to_thread(audit_service.export, fmt, filters)
        headers = {"Content-Disposition": f'attachment; filename="audit-log.{fmt}"'}
        return Stream(chunks, media_type=EXPORT_MEDIA_TYPES[fmt], headers=headers)
