"""Who may do what: API keys and JWTs, route rules (deny by default), per-key rate limits."""

from triage.domain.auth.guards import (
    DENIAL_RECORDER_STATE_KEY,
    enforce_route_rules,
    requires_roles,
)
from triage.domain.auth.middleware import KEY_SERVICE_STATE_KEY, ApiKeyAuthMiddleware, AuthBackend
from triage.domain.auth.policy import ROUTE_RULES, RouteRule, may_see_team, rule_for, visible_teams
from triage.domain.auth.ratelimit import build_rate_limit_middleware
from triage.domain.auth.services import DenialRecorder, JwtVerifier, KeyService

__all__ = [
    "DENIAL_RECORDER_STATE_KEY",
    "KEY_SERVICE_STATE_KEY",
    "ROUTE_RULES",
    "ApiKeyAuthMiddleware",
    "AuthBackend",
    "DenialRecorder",
    "JwtVerifier",
    "KeyService",
    "RouteRule",
    "build_rate_limit_middleware",
    "enforce_route_rules",
    "may_see_team",
    "requires_roles",
    "rule_for",
    "visible_teams",
]
