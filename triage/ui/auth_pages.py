"""Signing in to the desk (an API key or a JWT, exchanged for a session cookie), signing out, and the home
page that sends each role to its first page."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.response import Redirect, Template

from triage.core.actors import Actor
from triage.core.errors import UpstreamUnavailable
from triage.domain.auth.guards import AUTH_BACKEND_SCOPE_KEY, record_denial
from triage.domain.auth.middleware import SESSION_COOKIE, AuthBackend, UiSessions
from triage.domain.auth.services import Failure
from triage.domain.dependencies import AuditServiceDep, CurrentActor
from triage.ui.pages import nav_for, page

LOCAL_DESK_PATH = re.compile(r"^/ui(/[A-Za-z0-9._~/-]*)?$")
"""Where ``next`` may send someone after signing in: a desk path on this site, nothing else."""
FAILURES = {
    Failure.MISSING.value: "Paste your API key (or your identity provider's token) to sign in.",
    Failure.REVOKED.value: "This API key has been revoked. Ask an administrator for a new one.",
}
NOT_VALID = "That key or token is not valid."


def _backend(request: Request[Any, Any, Any]) -> tuple[AuthBackend, UiSessions]:
    backend: Any = request.scope.get(AUTH_BACKEND_SCOPE_KEY)
    sessions = backend.ui_sessions() if isinstance(backend, AuthBackend) else None
    if not isinstance(backend, AuthBackend) or sessions is None:
        raise UpstreamUnavailable("the desk's sessions are not configured")
    return backend, sessions


def _next_path(value: object) -> str:
    return value if isinstance(value, str) and LOCAL_DESK_PATH.match(value) and "//" not in value else "/ui"


def _over_tls(request: Request[Any, Any, Any]) -> bool:
    return request.url.scheme == "https"


class DeskSessionController(Controller):
    include_in_schema = False

    @get("/sign-in")
    async def sign_in_page(self, request: Request[Any, Any, Any], next: str | None = None) -> Template:
        return page(request, "sign_in.html", next=_next_path(next), error=None)

    @post("/sign-in")
    async def sign_in(self, request: Request[Any, Any, Any], audit_service: AuditServiceDep) -> Response[Any]:
        form = await request.form()
        credential, next_path = form.get("credential") or "", _next_path(form.get("next"))
        if not str(credential).strip():  # nothing to check: an incomplete form, not a failed sign-in
            message = FAILURES[Failure.MISSING.value]
            return page(request, "sign_in.html", status_code=422, next=next_path, error=message)
        backend, sessions = _backend(request)
        keys = backend.key_service()
        if keys is None:
            raise UpstreamUnavailable("authentication is not configured")
        verdict, token = await sessions.sign_in(keys, str(credential))
        if verdict.actor is None or token is None:
            if verdict.claimed is not None:
                await record_denial(request, verdict.claimed, (verdict.failure or Failure.REVOKED).value)
            failure = verdict.failure.value if verdict.failure else ""
            message = FAILURES.get(failure, NOT_VALID)
            return page(request, "sign_in.html", status_code=401, next=next_path, error=message)
        await asyncio.to_thread(
            audit_service.record_event, verdict.actor, "desk.signed_in", outcome=verdict.method
        )
        return Redirect(
            next_path, status_code=303, cookies=[sessions.cookie(token, over_tls=_over_tls(request))]
        )

    @post("/sign-out")
    async def sign_out(
        self, request: Request[Any, Any, Any], audit_service: AuditServiceDep
    ) -> Response[Any]:
        _, sessions = _backend(request)
        await sessions.sign_out(request.cookies.get(SESSION_COOKIE))
        if isinstance(request.user, Actor):  # an ended session signs out too, with nothing to record
            await asyncio.to_thread(audit_service.record_event, request.user, "desk.signed_out", outcome="ok")
        cleared = sessions.cleared_cookie(over_tls=_over_tls(request))
        return Redirect("/ui/sign-in?done=signed_out", status_code=303, cookies=[cleared])

    @get("/")
    async def home(self, request: Request[Any, Any, Any], caller: CurrentActor) -> Response[Any]:
        links = nav_for(caller)
        if links:
            return Redirect(links[0].path, status_code=303)
        return page(request, "home.html", me_role=_role(caller))


def _role(actor: Actor) -> str:
    return actor.role_name
