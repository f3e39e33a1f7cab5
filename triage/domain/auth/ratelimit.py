"""Rate limits on Litestar's rate-limit middleware, answered with 429 and ``Retry-After``.

Two budgets: one per client address, checked BEFORE authentication, so a flood of unknown, invalid or revoked
keys is refused without a key lookup each; and one per caller (the API key, ``key:<key_id>``; JWT callers
``key:jwt:<subject>``) after it. The client address is the connection's peer; the server takes it from
``X-Forwarded-For`` only when the peer is one of ``TRIAGE_TRUSTED_PROXIES`` (see ``triage/serving.py``). Counters live in the app's store named :data:`RATE_LIMIT_STORE`: in memory by
default (per process), or a shared Redis when ``TRIAGE_RATE_LIMIT_STORE_URL`` is set so that several replicas
share one budget. The shared count is a read-modify-write per request, so concurrent replicas may let a few
requests over the limit at the edge of a window; it is a flood guard, not billing.
"""

from __future__ import annotations

from time import time
from typing import Any

from litestar.connection import Request
from litestar.exceptions import TooManyRequestsException
from litestar.middleware.base import DefineMiddleware
from litestar.middleware.rate_limit import (
    CacheObject,
    RateLimitConfig,
    RateLimitMiddleware,
    get_remote_address,
)
from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore
from litestar.types import ASGIApp, Receive, Scope, Send

from triage.config import Settings
from triage.core.actors import Actor
from triage.core.errors import ConfigurationError

RATE_LIMIT_STORE = "rate_limit"
UNLIMITED_PATH_PATTERNS = ["^/health$", "^/ready$", "^/metrics$"]


def rate_limit_identifier(request: Request[Any, Any, Any]) -> str:
    """The budget a request counts against: its API key when authenticated, its client address otherwise."""
    user = request.scope.get("user")
    if isinstance(user, Actor):
        return f"key:{user.key_id or user.subject}"
    return f"ip:{get_remote_address(request)}"


def client_address_identifier(request: Request[Any, Any, Any]) -> str:
    return f"ip:{get_remote_address(request)}"


class KeyedRateLimitMiddleware(RateLimitMiddleware):
    """Litestar's rate limiter, plus ``Retry-After`` (seconds until the window resets) on a 429.

    ``store`` given here wins over the app's store registry, so the app factory need not register it.
    """

    def __init__(self, app: ASGIApp, config: RateLimitConfig, store: Store | None = None) -> None:
        super().__init__(app, config)
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = scope["litestar_app"]
        request: Request[Any, Any, Any] = app.request_class(scope)
        store = self.store or self.config.get_store_from_app(app)
        if await self.should_check_request(request=request):
            key = self.cache_key_from_request(request)
            async with self._lock:
                cache_object = await self.retrieve_cached_history(key, store)
                if len(cache_object.history) >= self.max_requests:
                    headers = self.create_response_headers(cache_object=cache_object)
                    headers["Retry-After"] = str(retry_after_s(cache_object))
                    raise TooManyRequestsException(
                        detail=f"rate limit of {self.max_requests} requests per {self.unit} exceeded",
                        headers=headers,
                    )
                await self.set_cached_history(key=key, cache_object=cache_object, store=store)
            send = self.create_send_wrapper(send=send, cache_object=cache_object)
        await self.app(scope, receive, send)


class AddressRateLimitMiddleware(KeyedRateLimitMiddleware):
    """The per-address budget, ahead of authentication (its own class name keeps its counters apart)."""


def retry_after_s(cache_object: CacheObject) -> int:
    return max(1, cache_object.reset - int(time()))


def build_rate_limit_config(settings: Settings) -> RateLimitConfig:
    """Per-key limit of ``settings.rate_limit_per_minute``; health, ready and metrics are not limited."""
    return RateLimitConfig(
        rate_limit=("minute", settings.rate_limit_per_minute),
        exclude=list(UNLIMITED_PATH_PATTERNS),
        identifier_for_request=rate_limit_identifier,
        middleware_class=KeyedRateLimitMiddleware,
        store=RATE_LIMIT_STORE,
    )


def build_rate_limit_store(settings: Settings) -> Store:
    """In-memory counters, or Redis at ``settings.rate_limit_store_url`` (needs the ``redis`` package)."""
    url = settings.rate_limit_store_url
    if not url:
        return MemoryStore()
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigurationError(
            f"TRIAGE_RATE_LIMIT_STORE_URL must be a redis:// URL, got {url.split(':')[0]}://"
        )
    try:
        from litestar.stores.redis import RedisStore
    except ImportError as exc:  # pragma: no cover - depends on the optional redis package
        raise ConfigurationError(
            "TRIAGE_RATE_LIMIT_STORE_URL needs the 'redis' package: pip install 'litestar[redis]'"
        ) from exc
    return RedisStore.with_client(url=url, namespace="triage-rate-limit")


def build_rate_limit_middleware(settings: Settings) -> DefineMiddleware:
    """The per-caller limiter for ``Litestar(middleware=[address, auth, <this>])``, with its own store."""
    config = build_rate_limit_config(settings)
    return DefineMiddleware(KeyedRateLimitMiddleware, config=config, store=build_rate_limit_store(settings))


def build_address_rate_limit_middleware(settings: Settings) -> DefineMiddleware:
    """The per-address limiter for ``Litestar(middleware=[<this>, auth, caller])``."""
    config = RateLimitConfig(
        rate_limit=("minute", settings.rate_limit_per_address_per_minute),
        exclude=list(UNLIMITED_PATH_PATTERNS),
        identifier_for_request=client_address_identifier,
        middleware_class=AddressRateLimitMiddleware,
        store=RATE_LIMIT_STORE,
    )
    return DefineMiddleware(AddressRateLimitMiddleware, config=config, store=build_rate_limit_store(settings))
