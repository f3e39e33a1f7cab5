"""Authentication middleware: turns ``Authorization: Bearer <token>`` into an ``Actor`` on the connection.

Public paths (health, readiness, metrics, the OpenAPI document) are skipped. Everything else without a valid
credential is refused with 401 here, before any guard or handler runs; whether the authenticated role may call
the route is the guards' job. The key lookup is a blocking database read, so it runs in a worker thread.

The desk's pages (``/ui``) also accept a session cookie, which :class:`UiSessions` issues when someone signs in
with an API key or a JWT; only ``/ui`` paths read it, so the cookie never authenticates an API call. A session
holds no credential: it names the API key it was opened with, and that key is looked up again on every
request, so revoking the key ends its sessions at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import anyio.to_thread
import jwt
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.middleware.authentication import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.middleware.base import DefineMiddleware
from litestar.stores.base import Store
from litestar.stores.file import FileStore
from litestar.types import ASGIApp, Method, Scopes

from triage.config import Settings
from triage.core.actors import Actor, Role
from triage.core.errors import ConfigurationError, Unauthorized, UpstreamUnavailable
from triage.domain.auth.guards import AUTH_BACKEND_SCOPE_KEY, record_denial
from triage.domain.auth.policy import PUBLIC_PATH_PATTERNS, UI_PREFIX, is_sign_in_path
from triage.domain.auth.services import Authentication, DenialRecorder, Failure, KeyService

KEY_SERVICE_STATE_KEY = "key_service"
SESSION_COOKIE = "triage_session"
SESSION_AUTH = "session"
"""``connection.auth`` of a request authenticated by the desk's session cookie (else ``api_key`` or ``jwt``)."""

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

    @property
    def settings(self) -> Settings:
        """The settings the desk's sessions are built from."""
        ...


@dataclass(frozen=True)
class SessionRecord:
    """What the store keeps for one desk session: who, how they signed in, and until when at most."""

    subject: str
    role: str
    teams: tuple[str, ...]
    key_id: str | None
    method: str
    expires_at: float

    def to_json(self) -> bytes:
        return json.dumps({**self.__dict__, "teams": list(self.teams)}).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> SessionRecord | None:
        try:
            data = json.loads(raw)
            return cls(**{**data, "teams": tuple(data["teams"])})
        except (ValueError, TypeError, KeyError):
            return None


class UiSessions:
    """The desk's server-side sessions: opened at sign-in, looked up per request, ended by sign-out or expiry.

    The cookie carries a random token; the store is keyed by its SHA-256, so whoever reads the store cannot
    use what is in it. A session ends ``idle_s`` after its last use and ``lifetime_s`` after sign-in at most
    (a JWT's own expiry, when sooner). Store: files under the home (shared by the workers of one host) or
    Redis (``TRIAGE_UI_SESSION_STORE_URL``) for replicas on several hosts.
    """

    def __init__(
        self,
        store: Store,
        *,
        lifetime_s: float,
        idle_s: float,
        csrf_secret: str,
        cookie_secure: bool | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.lifetime_s = lifetime_s
        self.idle_s = idle_s
        self.csrf_secret = csrf_secret
        self.cookie_secure = cookie_secure
        self.clock = clock

    @classmethod
    def from_settings(cls, settings: Settings) -> UiSessions:
        secure = True if settings.environment == "production" else settings.ui_cookie_secure
        return cls(
            _session_store(settings),
            lifetime_s=settings.ui_session_lifetime_s,
            idle_s=settings.ui_session_idle_s,
            # A key of its own for the desk's CSRF tokens, derived from the service's secret (key separation).
            csrf_secret=hmac.new(
                settings.audit_signing_key.get_secret_value().encode(), b"triage-ui-csrf", hashlib.sha256
            ).hexdigest(),
            cookie_secure=secure,
        )

    async def sign_in(self, keys: KeyService, credential: str) -> tuple[Authentication, str | None]:
        """Check ``credential`` (an API key or a JWT) as a bearer token would be; when valid, open a session:
        ``(verdict, cookie value)``."""
        verdict = await anyio.to_thread.run_sync(keys.check, credential.strip())
        actor = verdict.actor
        if actor is None or actor.role is None:
            return verdict, None
        now = self.clock()
        expires_at = now + self.lifetime_s
        if verdict.method == "jwt":
            expires_at = min(expires_at, _token_expiry(credential.strip()) or now)
        record = SessionRecord(
            subject=actor.subject,
            role=actor.role.value,
            teams=tuple(actor.teams),
            key_id=actor.key_id if verdict.method == "api_key" else None,
            method=verdict.method or "api_key",
            expires_at=expires_at,
        )
        token = secrets.token_urlsafe(32)
        await self.store.set(_store_key(token), record.to_json(), expires_in=self._ttl(record, now))
        return verdict, token

    async def resolve(self, token: str, keys: KeyService) -> Actor | None:
        """The actor of a live session, or ``None`` (unknown, expired, or its API key revoked since)."""
        if not token or len(token) > 128:
            return None
        key = _store_key(token)
        raw = await self.store.get(key)
        record = SessionRecord.from_json(raw) if raw is not None else None
        now = self.clock()
        if record is None or record.expires_at <= now:
            return None
        actor = await self._current_actor(record, keys)
        if actor is None:
            await self.store.delete(key)
            return None
        await self.store.set(key, record.to_json(), expires_in=self._ttl(record, now))
        return actor

    async def sign_out(self, token: str | None) -> None:
        if token:
            await self.store.delete(_store_key(token))

    def cookie(self, token: str, *, over_tls: bool) -> Cookie:
        """The session cookie: HttpOnly, SameSite=Strict, only sent to the desk, Secure behind TLS."""
        return Cookie(
            key=SESSION_COOKIE,
            value=token,
            path=UI_PREFIX,
            httponly=True,
            samesite="strict",
            secure=self.secure(over_tls=over_tls),
            max_age=int(self.lifetime_s),
        )

    def cleared_cookie(self, *, over_tls: bool) -> Cookie:
        return Cookie(
            key=SESSION_COOKIE,
            value="",
            path=UI_PREFIX,
            httponly=True,
            samesite="strict",
            secure=self.secure(over_tls=over_tls),
            max_age=0,
            expires=0,
        )

    def secure(self, *, over_tls: bool) -> bool:
        return over_tls if self.cookie_secure is None else self.cookie_secure

    def _ttl(self, record: SessionRecord, now: float) -> int:
        return max(1, int(min(self.idle_s, record.expires_at - now)))

    @staticmethod
    async def _current_actor(record: SessionRecord, keys: KeyService) -> Actor | None:
        if record.key_id is None:
            return Actor(
                subject=record.subject,
                role=Role(record.role),
                teams=record.teams,
                key_id=f"jwt:{record.subject}",
            )
        # The key as it is now: a revoked key ends the session, a changed role or team list applies at once.
        key = await anyio.to_thread.run_sync(keys.store.get, record.key_id)
        if key is None or key.revoked_at is not None:
            return None
        return Actor(subject=key.subject, role=Role(key.role), teams=key.teams, key_id=key.key_id)


def _store_key(token: str) -> str:
    return "ui-session-" + hashlib.sha256(token.encode()).hexdigest()


def _token_expiry(token: str) -> float | None:
    """The ``exp`` of a JWT that has already been verified."""
    try:
        exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
    except jwt.InvalidTokenError:
        return None
    return float(exp) if isinstance(exp, int | float) else None


def _session_store(settings: Settings) -> Store:
    url = settings.ui_session_store_url
    if not url:
        return FileStore(settings.ui_session_dir, create_directories=True)
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigurationError(
            f"TRIAGE_UI_SESSION_STORE_URL must be a redis:// URL, got {url.split(':')[0]}://"
        )
    from litestar.stores.redis import RedisStore

    return RedisStore.with_client(url=url, namespace="triage-ui-sessions")


class AuthBackend:
    """The key service, the denial recorder and the desk's sessions: given directly (tests) or found in the
    app's ``source``.

    One backend is shared by the middleware instances of every route.
    """

    def __init__(
        self,
        key_service: KeyService | None = None,
        *,
        source: AuthSource | None = None,
        record_denial: DenialRecorder | None = None,
        ui_sessions: UiSessions | None = None,
    ) -> None:
        self._key_service = key_service
        self._source = source
        self._record_denial = record_denial
        self._ui_sessions = ui_sessions

    def key_service(self) -> KeyService | None:
        if self._key_service is not None or self._source is None:
            return self._key_service
        return self._source.key_service()

    def denial_recorder(self) -> DenialRecorder | None:
        if self._record_denial is not None or self._source is None:
            return self._record_denial
        return self._source.denial_recorder()

    def ui_sessions(self) -> UiSessions | None:
        """The desk's sessions (built from the source's settings on first use), or ``None`` without them."""
        if self._ui_sessions is None and self._source is not None:
            self._ui_sessions = UiSessions.from_settings(self._source.settings)
        return self._ui_sessions


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
        token = bearer_token(connection)
        if token is None and _is_ui(connection):
            result = await self._from_session(connection, service)
            if result is not None:
                return result
        verdict = await anyio.to_thread.run_sync(service.check, token)
        if verdict.actor is None:
            if token is None and is_sign_in_path(connection.scope["path"]):
                return AuthenticationResult(user=None, auth=None)  # the sign-in page itself: anyone
            await _refuse(connection, verdict)
        return AuthenticationResult(user=verdict.actor, auth=verdict.method)

    async def _from_session(
        self, connection: ASGIConnection[Any, Any, Any, Any], service: KeyService
    ) -> AuthenticationResult | None:
        """The desk's session cookie: its actor, ``None`` without a cookie; 401 when it has ended (except on
        the sign-in page, which anyone may open)."""
        sessions = self.backend.ui_sessions()
        cookie = connection.cookies.get(SESSION_COOKIE)
        if sessions is None or not cookie:
            return None
        actor = await sessions.resolve(cookie, service)
        if actor is not None:
            return AuthenticationResult(user=actor, auth=SESSION_AUTH)
        if is_sign_in_path(connection.scope["path"]):
            return AuthenticationResult(user=None, auth=None)
        raise Unauthorized(
            "your desk session has ended (signed out, expired or its key revoked); sign in again",
            extra={"reason": "session_ended"},
        )


def _is_ui(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    path: str = connection.scope["path"]
    return path == UI_PREFIX or path.startswith(UI_PREFIX + "/")


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
