"""The desk's protections beyond authentication: CSRF on every form, and the headers every page carries.

CSRF uses Litestar's own middleware (a signed double-submit token: a cookie, and the same token in each form
or in htmx's ``X-CSRFToken`` header). It guards requests authenticated by the session cookie and anonymous
ones (the sign-in form); a request that carries ``Authorization: Bearer`` has no ambient credential a forged
page could borrow, so it is let through. Its secret comes from the desk's sessions (derived from the
service's secret), so every worker and replica accepts the same tokens.
"""

from __future__ import annotations

from typing import Any

from litestar.config.csrf import CSRFConfig
from litestar.datastructures import ResponseHeader
from litestar.enums import ScopeType
from litestar.middleware.csrf import CSRFMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from triage.core.errors import UpstreamUnavailable
from triage.domain.auth.guards import AUTH_BACKEND_SCOPE_KEY
from triage.domain.auth.middleware import SESSION_AUTH, AuthBackend
from triage.domain.auth.policy import UI_PREFIX

CSRF_COOKIE = "triage_csrf"
CSRF_HEADER = "x-csrftoken"
CSRF_FIELD = "_csrf_token"  # Litestar reads this form field name

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",  # charts are SVG images inlined as data: URIs
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)

PAGE_HEADERS = [
    ResponseHeader(name="Content-Security-Policy", value=CONTENT_SECURITY_POLICY),
    ResponseHeader(name="X-Content-Type-Options", value="nosniff"),
    ResponseHeader(name="Referrer-Policy", value="same-origin"),
    ResponseHeader(name="X-Frame-Options", value="DENY"),
]


class DeskCSRFMiddleware:
    """Litestar's CSRF middleware, configured on first use from the desk's sessions (the app's settings)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._inner: CSRFMiddleware | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope.get("auth") not in (None, SESSION_AUTH):
            await self.app(scope, receive, send)  # bearer callers: nothing ambient to forge
            return
        await self._csrf(scope)(scope, receive, send)

    def _csrf(self, scope: Scope) -> CSRFMiddleware:
        if self._inner is None:
            backend: Any = scope.get(AUTH_BACKEND_SCOPE_KEY)
            sessions = backend.ui_sessions() if isinstance(backend, AuthBackend) else None
            if sessions is None:
                raise UpstreamUnavailable("the desk's sessions are not configured")
            config = CSRFConfig(
                secret=sessions.csrf_secret,
                cookie_name=CSRF_COOKIE,
                cookie_path=UI_PREFIX,
                cookie_httponly=True,  # pages carry the token; no script needs to read the cookie
                cookie_samesite="strict",
                cookie_secure=bool(sessions.cookie_secure),
                header_name=CSRF_HEADER,
            )
            self._inner = CSRFMiddleware(self.app, config)
        return self._inner
