"""Litestar guards: the app-level route-rule check (deny by default) and a per-handler role guard.

Every refusal of an authenticated caller is handed to the denial recorder stored in the app's state under
:data:`DENIAL_RECORDER_STATE_KEY` (``AuditService.record_denial`` in the real app), so auth does not import
the audit domain and a unit test can pass a list's ``append``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any

import anyio.to_thread
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from triage.core.actors import Actor, Role
from triage.core.errors import Forbidden, Unauthorized
from triage.domain.auth.policy import RouteRule, rule_for
from triage.domain.auth.services import DenialRecorder

DENIAL_RECORDER_STATE_KEY = "auth_denial_recorder"
AUTH_BACKEND_SCOPE_KEY = "triage.auth_backend"
"""Where the authentication middleware leaves its backend, so guards find the same denial recorder."""

Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]


def route_of(connection: ASGIConnection[Any, Any, Any, Any]) -> tuple[str, str]:
    """``(METHOD, path template)`` of the route being called, as the rules table names it."""
    method = str(connection.scope.get("method", "GET")).upper()
    template = connection.scope.get("path_template") or connection.scope.get("path", "")
    return method, str(template)


def rule_from_opt(opt: Mapping[str, Any]) -> RouteRule | None:
    """A rule declared on the handler itself: ``opt={"public": True}`` or ``opt={"roles": [...]}``."""
    if opt.get("public") is True:
        return RouteRule(public=True)
    roles = opt.get("roles")
    if roles is None:
        return None
    return RouteRule(roles=frozenset(Role(role) for role in roles))


def effective_rule(method: str, path_template: str, opt: Mapping[str, Any]) -> RouteRule | None:
    """The rules table wins; a handler's ``opt`` is the fallback; neither means the route is refused."""
    return rule_for(method, path_template) or rule_from_opt(opt)


async def record_denial(connection: ASGIConnection[Any, Any, Any, Any], actor: Actor, reason: str) -> None:
    """Hand one refusal to the app's denial recorder, if the app installed one."""
    recorder: DenialRecorder | None = None
    backend: Any = connection.scope.get(AUTH_BACKEND_SCOPE_KEY)
    if backend is not None:
        recorder = backend.denial_recorder()
    app = connection.scope.get("litestar_app")
    if recorder is None and app is not None:
        recorder = app.state.get(DENIAL_RECORDER_STATE_KEY)
    if recorder is None:
        return
    method, template = route_of(connection)
    await anyio.to_thread.run_sync(recorder, actor, f"{method} {template}", reason)


def _actor_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Actor:
    user = connection.scope.get("user")
    if not isinstance(user, Actor):
        raise Unauthorized("authentication required: send 'Authorization: Bearer <api key>'")
    return user


async def enforce_route_rules(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """App-level guard: let the call through only if the route has a rule and the caller's role is in it."""
    method, template = route_of(connection)
    rule = effective_rule(method, template, handler.opt)
    if rule is not None and rule.public:
        return
    actor = _actor_of(connection)
    if rule is None:
        await record_denial(connection, actor, "route has no authorization rule (deny by default)")
        raise Forbidden(f"{method} {template} has no authorization rule; refused by default")
    if not rule.allows(actor.role):
        await record_denial(connection, actor, f"role {actor.role_name!r} may not call {method} {template}")
        allowed = ", ".join(sorted(role.value for role in rule.roles)) or "nobody"
        raise Forbidden(f"role {actor.role_name!r} may not call {method} {template} (allowed: {allowed})")


def requires_roles(*roles: Role | str) -> Guard:
    """A guard for one handler or controller: the caller's role must be one of ``roles``."""
    allowed: Collection[Role] = frozenset(Role(role) for role in roles)

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        actor = _actor_of(connection)
        if actor.role not in allowed:
            method, template = route_of(connection)
            await record_denial(
                connection, actor, f"role {actor.role_name!r} may not call {method} {template}"
            )
            raise Forbidden(f"role {actor.role_name!r} may not call {method} {template}")

    guard.__name__ = f"requires_roles({', '.join(sorted(allowed))})"
    return guard
