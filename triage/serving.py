"""How ``triage serve`` runs the app under uvicorn: client addresses, request deadlines and JSON logs.

- **Client address.** uvicorn rewrites the peer from ``X-Forwarded-For`` only when the peer is one of
  ``TRIAGE_TRUSTED_PROXIES``; with none configured the header is ignored (uvicorn's own default would trust
  any loopback peer).
- **Deadlines.** A request's headers and body must arrive within ``TRIAGE_REQUEST_READ_TIMEOUT_S`` of the
  connection opening (or of the previous response on a kept-alive connection); a slow or stalled client gets
  408 and the connection is closed, so partial requests cannot hold connections open.
- **Logs.** One JSON object per line (python-json-logger): a request path with ``%0a`` in it is an escaped
  string inside one record, never a forged second line.
- **Worker threads.** The flow's blocking steps (database, classifier, search) run in the event loop's default
  executor. asyncio's own has ``min(32, cores + 4)`` threads, 6 on two cores: at 32 concurrent requests the
  other 26 queued for a thread instead of for the encoder, so encoder passes were shared by ~2.6 requests
  where they could be shared by all waiting. The server's loop (``event_loop``) gets ``EXECUTOR_THREADS``.
- **Memory.** glibc gives each thread that allocates concurrently its own malloc arena (up to 8 per core),
  and arenas keep what they freed: with torch and many worker threads that was ~200 MB of a worker's resident
  memory. ``event_loop`` caps the arenas at ``MALLOC_ARENAS`` (``M_ARENA_MAX``) before any worker thread
  starts, unless ``MALLOC_ARENA_MAX`` is set in the environment (glibc's own knob wins).
"""

from __future__ import annotations

import asyncio
import ctypes
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from triage.config import Settings, get_settings

JSON_FORMATTER = "pythonjsonlogger.json.JsonFormatter"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
REQUEST_TIMEOUT_RESPONSE = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
EXECUTOR_THREADS = 48
"""Threads of the server's default executor: enough for every request the encoder queue admits by default to
wait for its pass in a thread of its own, plus the database and search steps of others."""
MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # glibc's mallopt parameter number


class DeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with one deadline for reading each request (headers and body)."""

    read_timeout_s: float | None = None
    """``None``: ``TRIAGE_REQUEST_READ_TIMEOUT_S`` (read when a connection opens; uvicorn's workers import
    this class by name, so the setting, not a class built at run time, carries the value)."""
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state in {h11.DONE, h11.MUST_CLOSE, h11.CLOSED, h11.ERROR}:
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.conn.our_state is h11.IDLE or self.conn.their_state is h11.IDLE:
            self._arm()  # the next request on this kept-alive connection has the same deadline

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        timeout = self.read_timeout_s or get_settings().request_read_timeout_s
        self._deadline = self.loop.call_later(timeout, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if self.transport.is_closing() or self.conn.their_state in {h11.DONE, h11.MUST_CLOSE}:
            return
        if self.cycle is None or not self.cycle.response_started:
            self.transport.write(REQUEST_TIMEOUT_RESPONSE)
        self.transport.close()


def protocol_for(settings: Settings) -> type[H11Protocol]:
    """The protocol class with this deployment's read deadline."""
    return type(
        "TriageH11Protocol", (DeadlineH11Protocol,), {"read_timeout_s": settings.request_read_timeout_s}
    )


def log_config(level: str = "INFO") -> dict[str, Any]:
    """``logging.config.dictConfig`` for uvicorn and the service: JSON lines on stderr."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JSON_FORMATTER, "fmt": LOG_FORMAT}},
        "handlers": {"stderr": handler},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            # One line per outgoing HTTP request (webhook deliveries) is noise; failures are logged by triage.
            "httpx": {"level": "WARNING"},
            **{
                name: {"handlers": ["stderr"], "level": level, "propagate": False}
                for name in ("triage", "uvicorn", "uvicorn.error", "uvicorn.access", "litestar")
            },
        },
    }


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas for this process (before threads start); False where that is not glibc or
    ``MALLOC_ARENA_MAX`` already decides."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this process runs on
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_ARENA_MAX, arenas))


def event_loop() -> asyncio.AbstractEventLoop:
    """The server's event loop (uvicorn's ``loop`` factory): asyncio's, with ``EXECUTOR_THREADS`` worker
    threads for ``asyncio.to_thread`` and the malloc arenas capped (see the module docstring)."""
    limit_malloc_arenas()
    loop = asyncio.new_event_loop()
    loop.set_default_executor(
        ThreadPoolExecutor(max_workers=EXECUTOR_THREADS, thread_name_prefix="triage-worker")
    )
    return loop


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` / ``uvicorn.Config`` that apply the rules above."""
    trusted = settings.trusted_proxies
    return {
        "http": "triage.serving:DeadlineH11Protocol",
        "loop": "triage.serving:event_loop",
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": ",".join(trusted) if trusted else "",
        "timeout_keep_alive": 5,
        "log_config": log_config(),
        "server_header": False,
    }
