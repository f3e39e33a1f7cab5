"""The Litestar application factory: routes, dependency providers, error mapping, background jobs.

What the services are and how they are built is ``triage/wiring.py``; this module only plugs them into Litestar.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from litestar import Litestar, Request, Response
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from triage.config import Settings, get_settings
from triage.core.errors import TriageError
from triage.domain.audit.controllers import AuditController
from triage.domain.auth import ApiKeyAuthMiddleware, enforce_route_rules
from triage.domain.auth.ratelimit import build_address_rate_limit_middleware, build_rate_limit_middleware
from triage.domain.cases.controllers import CaseController
from triage.domain.dependencies import provide_caller
from triage.domain.events.controllers import EventController, WebhookController
from triage.domain.models.controllers import ModelController
from triage.domain.policy.controllers import PolicyController
from triage.domain.reviews.controllers import ReviewController
from triage.domain.system.controllers import SystemController
from triage.domain.system.dashboard_api import DashboardController
from triage.openapi_docs import document_problems, offline_render_plugins, redoc_script
from triage.strict_input import StrictJSONRequest
from triage.ui import ui_route_handlers, ui_template_config
from triage.wiring import Job, ServiceRegistry, Services, background_jobs

log = logging.getLogger("triage")
PROBLEM_JSON = "application/problem+json"


def problem(
    request: Request[Any, Any, Any], status: int, title: str, detail: str, **extra: Any
) -> Response[Any]:
    body = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    body.update(extra)
    headers = {}
    if status in (429, 503) and "retry_after" in extra:
        headers["Retry-After"] = str(extra["retry_after"])
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="exception-triage"'

    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _triage_error(request: Request[Any, Any, Any], exc: TriageError) -> Response[Any]:
    return problem(request, exc.status_code, exc.title, exc.detail, **exc.extra)


def _validation_error(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    errors = exc.extra if isinstance(exc.extra, list) else []
    # A check on the whole body (not one field) names no key: it is reported against "body".
    fields = [
        {"field": str(e.get("key") or e.get("source") or "body"), "message": str(e.get("message") or "")}
        for e in errors
        if isinstance(e, dict)
    ]
    detail = "; ".join(f"{f['field']}: {f['message']}" for f in fields) or str(exc.detail)
    # A body that is not JSON (or not UTF-8) is malformed, not a semantic error: 400.
    status = (
        400 if not fields or all(f["field"] == "body" and "JSON" in f["message"] for f in fields) else 422
    )
    return problem(
        request, status, "Invalid request" if status == 400 else "Validation failed", detail, errors=fields
    )


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    response = problem(request, exc.status_code, _title(exc.status_code), str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def _bad_encoding(request: Request[Any, Any, Any], exc: UnicodeDecodeError) -> Response[Any]:
    return problem(
        request,
        400,
        "Invalid request",
        f"the request body is not valid UTF-8 ({exc.reason} at byte {exc.start})",
    )


def _unexpected_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(
        request,
        HTTP_500_INTERNAL_SERVER_ERROR,
        "Internal error",
        "an unexpected error occurred; it has been logged",
    )


def _title(status: int) -> str:
    return {
        400: "Bad request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not found",
        405: "Method not allowed",
        409: "Conflict",
        413: "Request body too large",
        429: "Too many requests",
    }.get(status, "Error")


async def _every(job: Job) -> None:
    while True:
        await asyncio.sleep(job.interval_s)
        await run_job(job)


async def run_job(job: Job) -> None:
    """Run a background job once in a worker thread; a failure is logged and the next run tries again."""
    try:
        await asyncio.to_thread(job.run)
    except TriageError as exc:
        log.warning("%s failed: %s", job.name, exc.detail)
    except Exception:  # a background loop must survive a disk or driver error; logged with its traceback
        log.exception("%s failed; retrying in %.0f s", job.name, job.interval_s)


def provide_services(registry: ServiceRegistry) -> dict[str, Provide]:
    """One provider per injectable service (names as in ``triage/domain/dependencies.py``)."""

    def service(pick: Callable[[Services], Any]) -> Provide:
        return Provide(lambda: pick(registry.require()), sync_to_thread=False)

    return {
        "caller": Provide(provide_caller, sync_to_thread=False),
        "flow": service(lambda s: s.flow),
        "case_service": service(lambda s: s.cases),
        "case_history": service(lambda s: s.case_history),
        "relabel_service": service(lambda s: s.relabel),
        "review_service": service(lambda s: s.reviews),
        "review_queue": service(lambda s: s.review_queue),
        "audit_service": service(lambda s: s.audit),
        "policy_service": service(lambda s: s.policy),
        "model_service": service(lambda s: s.model),
        "model_registry": service(lambda s: s.registry),
        "dashboard_service": service(lambda s: s.dashboard),
        "event_outbox": service(lambda s: s.events),
        "webhook_service": service(lambda s: s.webhooks),
        "readiness": Provide(lambda: registry.readiness, sync_to_thread=False),
        "metrics": Provide(lambda: registry.metrics, sync_to_thread=False),
    }


def create_app(settings: Settings | None = None, *, registry: ServiceRegistry | None = None) -> Litestar:
    """Build the app. Services are built in the lifespan, in a worker thread, so ``/health`` answers at once."""
    settings = settings or get_settings()
    registry = registry or ServiceRegistry(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        tasks: list[asyncio.Task[None]] = []

        async def start() -> None:
            await asyncio.to_thread(registry.start)
            if registry.services is not None:
                tasks.extend(asyncio.create_task(_every(job)) for job in background_jobs(registry.services))

        document_problems(app.openapi_schema)
        tasks.append(asyncio.create_task(start()))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.to_thread(registry.close)

    exception_handlers: dict[Any, Callable[..., Response[Any]]] = {
        TriageError: _triage_error,
        ValidationException: _validation_error,
        NotAuthorizedException: _http_error,
        PermissionDeniedException: _http_error,
        HTTPException: _http_error,
        UnicodeDecodeError: _bad_encoding,
        Exception: _unexpected_error,
    }
    return Litestar(
        route_handlers=[
            SystemController,
            CaseController,
            ReviewController,
            AuditController,
            PolicyController,
            EventController,
            WebhookController,
            DashboardController,
            ModelController,
            redoc_script,
            *ui_route_handlers(),
        ],
        template_config=ui_template_config(),
        dependencies=provide_services(registry),
        middleware=[
            build_address_rate_limit_middleware(settings),
            ApiKeyAuthMiddleware.define(registry),
            build_rate_limit_middleware(settings),
        ],
        guards=[enforce_route_rules],
        exception_handlers=exception_handlers,
        lifespan=[lifespan],
        request_max_body_size=settings.max_body_bytes,
        request_class=StrictJSONRequest,
        openapi_config=OpenAPIConfig(
            title="exception-triage",
            version="1",
            path="/schema",
            components=Components(
                security_schemes={
                    "apiKey": SecurityScheme(type="http", scheme="bearer", description="API key")
                }
            ),
            security=[{"apiKey": []}],
            render_plugins=offline_render_plugins(),
        ),
        state=State({"registry": registry}),
        logging_config=None,  # `triage serve` configures logging (JSON lines, see triage/serving.py)
        debug=False,
    )


__all__ = ["create_app", "problem", "run_job"]
