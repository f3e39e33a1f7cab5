"""Authentication middleware: turns ``Authorization: Bearer <token>`` into an ``Actor`` on the connection.

Public paths (health, readiness, metrics, the OpenAPI document) are skipped. Everything else without a valid
credential is refused with 401 here, before any guard or handler runs; whether the authenticated role may call
the route is the guards' job. The key lookup is a blocking database read, so it runs in a worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import anyio.to_thread
from litestar.connection import ASGIConnection
from litestar.middleware.authentication import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.middleware.base import DefineMiddleware
from litestar.types import ASGIApp, Method, Scopes

from triage.core.errors import Unauthorized, UpstreamUnavailable
from triage.domain.auth.guards import AUTH_BACKEND_SCOPE_KEY, record_denial
from triage.domain.auth.policy import PUBLIC_PATH_PATTERNS
from triage.domain.auth.services import Authentication, DenialRecorder, Failure, KeyService

KEY_SERVICE_STATE_KEY = "key_service"

_MESSAGES = {
    Failure.MISSING: "authentication required: send 'Authorization: Bearer <api key>'",
    Failure.MALFORMED: "the bearer credential is not a valid API key or token",
    Failure.UNKNOWN: "the API key is not valid",
    Failure.REVOKED: "the API key has been revoked",
    Failure.INVALID_TOKEN: "the bearer token is not valid (signature, issuer, audience, expiry or claims)",
}


class AuthSource(Protocol):
    """Where the middleware finds the key service and the denial recorder once the service has started."""

    def key_service(self) -> KeyService:
        """The key service; ``UpstreamUnavailable`` while the service is starting."""
        ...

    def denial_recorder(self) -> DenialRecorder | None: ...


class AuthBackend:
    """The key service and the denial recorder: given directly (tests) or found in the app's ``source``.

    One backend is shared by the middleware instances of every route.
    """

    def __init__(
        self,
        key_service: KeyService | None = None,
        *,
        source: AuthSource | None = None,
        record_denial: DenialRecorder | None = None,
    ) -> None:
        self._key_service = key_service
        self._source = source
        self._record_denial = record_denial

    def key_service(self) -> KeyService | None:
        if self._key_service is not None or self._source is None:
            return self._key_service
        return self._source.key_service()

    def denial_recorder(self) -> DenialRecorder | None:
        if self._record_denial is not None or self._source is None:
            return self._record_denial
        return self._source.denial_recorder()


class ApiKeyAuthMiddleware(AbstractAuthenticationMiddleware):
    """Sets ``connection.user`` to the calling :class:`~triage.core.actors.Actor`; 401 when there is none.

    Build it with :meth:`define` (from an :class:`AuthSource`, a :class:`KeyService` or an :class:`AuthBackend`);
    with none of them it reads ``app.state["key_service"]`` at request time.
    """

    def __init__(
        self,
        app: ASGIApp,
        backend: AuthBackend | None = None,
        key_service: KeyService | None = None,
        exclude: str | list[str] | None = None,
        exclude_from_auth_key: str = "exclude_from_auth",
        exclude_http_methods: Sequence[Method] | None = None,
        scopes: Scopes | None = None,
    ) -> None:
        super().__init__(
            app,
            exclude=list(PUBLIC_PATH_PATTERNS) if exclude is None else exclude,
            exclude_from_auth_key=exclude_from_auth_key,
            exclude_http_methods=exclude_http_methods,
            scopes=scopes,
        )
        self.backend = backend or AuthBackend(key_service)

    @classmethod
    def define(cls, source: AuthSource | KeyService | AuthBackend, **kwargs: Any) -> DefineMiddleware:
        """The middleware for ``Litestar(middleware=[...])``; ``source`` is usually the app's service registry."""
        if isinstance(source, AuthBackend):
            backend = source
        elif isinstance(source, KeyService):
            backend = AuthBackend(source)
        else:
            backend = AuthBackend(source=source)
        return DefineMiddleware(cls, backend=backend, **kwargs)

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        connection.scope[AUTH_BACKEND_SCOPE_KEY] = self.backend  # type: ignore[literal-required]
        service = self.backend.key_service() or connection.app.state.get(KEY_SERVICE_STATE_KEY)
        if service is None:
            raise UpstreamUnavailable("authentication is not configured")
        verdict = await anyio.to_thread.run_sync(service.check, bearer_token(connection))
        if verdict.actor is None:
            await _refuse(connection, verdict)
        return AuthenticationResult(user=verdict.actor, auth=verdict.method)


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The credential of an ``Authorization: Bearer ...`` header, or ``None``."""
    header = connection.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return ""
    return token


async def _refuse(connection: ASGIConnection[Any, Any, Any, Any], verdict: Authentication) -> None:
    failure = verdict.failure or Failure.MALFORMED
    # Only revoked keys name a real owner; unknown or garbled credentials are not audited, so anonymous
    # traffic cannot flood the audit chain.
    if verdict.claimed is not None:
        await record_denial(connection, verdict.claimed, failure.value)
    raise Unauthorized(_MESSAGES[failure], extra={"reason": failure.value})
