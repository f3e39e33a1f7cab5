"""The route rules: which role may call which route. One table, read by the app-level guard.

Deny by default: a route missing from :data:`ROUTE_RULES` is refused for everyone (and the inventory test in
``tests/integration/test_auth_matrix.py`` fails), so a new route is closed until someone writes its rule here.

The table follows the "who" column of the contract. The ``admin`` role is the operator of the service, not a
business actor, and gets least privilege accordingly:

- admin may read cases and the review queue (support), the versions in force, verify the audit chain, and is
  the only role that may reload the policy and promote or roll back model versions (compliance may read the
  model registry too);
- admin may NOT post exceptions, decide review items, record resolutions (the business actors do, under their
  own name, limits and four-eyes rules: an all-powerful key would bypass separation of duties), nor query or
  export the audit log (the record of who decided what is for compliance).

Object-level rules (an agent sees only their teams' cases and queues) are :func:`visible_teams`; the case and
review services apply them, because the guard cannot see which case a row belongs to.

The desk's pages and forms (``/ui``) have no rules of their own: each takes the rule of the API call it makes
(:data:`UI_ROUTE_RULES`), so a page can never show or do more than its API allows. Only signing in and the
vendored static files are public.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from triage.core.actors import Actor, Role

W, A, S, C, ADM = Role.WORKFLOW, Role.AGENT, Role.SUPERVISOR, Role.COMPLIANCE, Role.ADMIN
ALL_ROLES: frozenset[Role] = frozenset(Role)


@dataclass(frozen=True)
class RouteRule:
    """Who may call one route: nobody needs to authenticate (``public``) or one of ``roles``."""

    roles: frozenset[Role] = frozenset()
    public: bool = False

    def allows(self, role: Role | None) -> bool:
        return self.public or (role is not None and role in self.roles)


def _roles(*roles: Role) -> RouteRule:
    return RouteRule(roles=frozenset(roles))


PUBLIC = RouteRule(public=True)

API_ROUTE_RULES: Mapping[tuple[str, str], RouteRule] = {
    ("POST", "/v1/exceptions"): _roles(W),
    ("GET", "/v1/cases"): _roles(W, A, S, ADM),
    ("GET", "/v1/cases/{case_id}"): _roles(W, A, S, ADM),
    ("GET", "/v1/reviews"): _roles(A, S, ADM),
    ("POST", "/v1/reviews/{item_id}/claim"): _roles(A, S),
    ("POST", "/v1/reviews/{item_id}/release"): _roles(A, S),
    ("POST", "/v1/reviews/{item_id}/assign"): _roles(S),
    ("GET", "/v1/cases/{case_id}/event"): _roles(W, A, S, ADM),
    ("POST", "/v1/cases/{case_id}/relabel"): _roles(A, S),
    ("POST", "/v1/cases/{case_id}/approve-all"): _roles(A, S),
    ("POST", "/v1/cases/{case_id}/items/{item_id}/check"): _roles(A, S),
    ("GET", "/v1/dashboard"): _roles(S, ADM),
    ("POST", "/v1/cases/{case_id}/decisions"): _roles(A, S),
    ("POST", "/v1/cases/{case_id}/resolution"): _roles(W, A),
    ("GET", "/v1/audit"): _roles(C),
    ("GET", "/v1/audit/verify"): _roles(C, ADM),
    ("GET", "/v1/audit/export"): _roles(C),
    ("GET", "/v1/audit/public-key"): _roles(C, ADM),
    ("GET", "/v1/model"): _roles(*ALL_ROLES),
    ("GET", "/v1/models"): _roles(C, ADM),
    ("GET", "/v1/models/jobs"): _roles(C, ADM),
    ("GET", "/v1/models/{version_id}"): _roles(C, ADM),
    ("POST", "/v1/models/{version_id}/promote"): _roles(ADM),
    ("POST", "/v1/models/rollback"): _roles(ADM),
    ("GET", "/v1/policy"): _roles(*ALL_ROLES),
    ("POST", "/v1/policy/reload"): _roles(ADM),
    ("GET", "/v1/events"): _roles(W, ADM),
    ("POST", "/v1/webhooks"): _roles(ADM),
    ("GET", "/v1/webhooks"): _roles(ADM),
    ("POST", "/v1/webhooks/{webhook_id}/disable"): _roles(ADM),
    ("POST", "/v1/webhooks/{webhook_id}/rotate-secret"): _roles(ADM),
    ("GET", "/v1/webhooks/deliveries"): _roles(ADM),
    ("POST", "/v1/webhooks/deliveries/{delivery_id}/redeliver"): _roles(ADM),
    ("GET", "/health"): PUBLIC,
    ("GET", "/ready"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
}
"""The API's ``(METHOD, path template)`` → rule. Path templates are Litestar's, e.g. ``/v1/cases/{case_id}``."""

UI_PREFIX = "/ui"
SIGN_IN_PATH = "/ui/sign-in"
SIGN_OUT_PATH = "/ui/sign-out"


def _as(method: str, api_path: str) -> RouteRule:
    """The rule of the API call a page or form makes (a ``KeyError`` at import if that call has none)."""
    return API_ROUTE_RULES[(method, api_path)]


UI_ROUTE_RULES: Mapping[tuple[str, str], RouteRule] = {
    ("GET", "/ui"): _roles(*ALL_ROLES),
    ("GET", SIGN_IN_PATH): PUBLIC,
    ("POST", SIGN_IN_PATH): PUBLIC,
    ("POST", SIGN_OUT_PATH): PUBLIC,  # ends the session it names, if any: nothing else changes
    ("GET", "/ui/static/{file_path}"): PUBLIC,
    ("GET", "/ui/queue"): _as("GET", "/v1/reviews"),
    ("POST", "/ui/reviews/{item_id}/claim"): _as("POST", "/v1/reviews/{item_id}/claim"),
    ("POST", "/ui/reviews/{item_id}/release"): _as("POST", "/v1/reviews/{item_id}/release"),
    ("POST", "/ui/reviews/{item_id}/assign"): _as("POST", "/v1/reviews/{item_id}/assign"),
    ("GET", "/ui/cases/{case_id}"): _as("GET", "/v1/cases/{case_id}"),
    ("POST", "/ui/cases/{case_id}/decisions"): _as("POST", "/v1/cases/{case_id}/decisions"),
    ("POST", "/ui/cases/{case_id}/items/{item_id}/check"): _as(
        "POST", "/v1/cases/{case_id}/items/{item_id}/check"
    ),
    ("POST", "/ui/cases/{case_id}/relabel"): _as("POST", "/v1/cases/{case_id}/relabel"),
    ("POST", "/ui/cases/{case_id}/approve-all"): _as("POST", "/v1/cases/{case_id}/approve-all"),
    ("GET", "/ui/dashboard"): _as("GET", "/v1/dashboard"),
    ("GET", "/ui/audit"): _as("GET", "/v1/audit"),
    ("GET", "/ui/audit/export"): _as("GET", "/v1/audit/export"),
}
"""The desk's pages and forms, each with the rule of the API call behind it."""

ROUTE_RULES: Mapping[tuple[str, str], RouteRule] = {**API_ROUTE_RULES, **UI_ROUTE_RULES}
"""Every route's rule: the API's and the desk's."""

PUBLIC_PATH_PREFIXES: tuple[str, ...] = ("/schema",)
"""The OpenAPI document and its viewers, all under one prefix Litestar owns."""

PUBLIC_PATH_PATTERNS: tuple[str, ...] = (
    "^/health$",
    "^/ready$",
    "^/metrics$",
    "^/schema(/|$)",
    "^/ui/static/",
)
"""Anchored patterns of the paths the authentication middleware skips (Litestar searches, not matches). Signing
in and out are not among them: they are public, but the middleware still reads a session cookie there."""


def is_sign_in_path(path: str) -> bool:
    """Signing in or out: public, with the caller known when a live session names them (never a 401)."""
    return path in {SIGN_IN_PATH, SIGN_OUT_PATH}


def rule_for(method: str, path_template: str) -> RouteRule | None:
    """The rule of one route, or ``None`` when it has none (and so is refused).

    ``OPTIONS`` (Litestar's automatic handler) and ``HEAD`` answer with headers only; they follow the rule of
    ``GET`` on the same path, except that an ``OPTIONS`` answer is public, like the OpenAPI document, which
    already lists every route's methods.
    """
    method = method.upper()
    if any(path_template == p or path_template.startswith(p + "/") for p in PUBLIC_PATH_PREFIXES):
        return PUBLIC if method in {"GET", "HEAD", "OPTIONS"} else None
    if method == "OPTIONS":
        return PUBLIC if any(path == path_template for _, path in ROUTE_RULES) else None
    if method == "HEAD":
        method = "GET"
    return ROUTE_RULES.get((method, path_template))


def visible_teams(actor: Actor) -> frozenset[str] | None:
    """The teams whose cases and review items ``actor`` may see; ``None`` means every team.

    Agents see their own teams only (an agent with no team sees nothing); every other role that may read cases
    sees all of them.
    """
    if actor.role is Role.AGENT:
        return frozenset(actor.teams)
    return None


def may_see_team(actor: Actor, team: str | None) -> bool:
    """Whether ``actor`` may see a case or review item owned by ``team``."""
    teams = visible_teams(actor)
    return teams is None or (team is not None and team in teams)
