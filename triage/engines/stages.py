"""Per-request stage timings that any layer can add to, without passing a timer through every call.

The flow opens a ``StageClock`` for each triage (``clock_for_request``); code below it, in the same task or in a
thread started with ``asyncio.to_thread`` (which copies the context), adds time under a stage name with
``stage(name)``. Outside a request nothing is recorded, so engines stay usable from the command line.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from threading import Lock

STAGES = ("replay", "embed", "classify", "retrieve", "draft", "check", "gate", "persist", "audit")
"""The stages reported at ``/metrics`` (``triage_stage_seconds``) and by the service benchmark. The flow
records all but ``check`` (the fact-check, inside ``draft``) and ``audit`` (written in ``persist``'s
transaction); code that wants them apart records them with ``stage``."""


class StageClock:
    """Seconds spent per stage in one request (thread-safe: a stage may run in a worker thread)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._lock = Lock()

    def add(self, name: str, seconds: float) -> None:
        with self._lock:
            self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    def get(self, name: str) -> float:
        with self._lock:
            return self.seconds.get(name, 0.0)


_current: ContextVar[StageClock | None] = ContextVar("stage_clock", default=None)


@contextmanager
def clock_for_request() -> Iterator[StageClock]:
    """A fresh clock for the ``with`` block; ``stage`` calls inside it (and in threads it starts) add to it."""
    clock = StageClock()
    token = _current.set(clock)
    try:
        yield clock
    finally:
        _current.reset(token)


def record(name: str, seconds: float) -> None:
    """Add ``seconds`` to stage ``name`` of the current request, if there is one."""
    clock = _current.get()
    if clock is not None:
        clock.add(name, seconds)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Time the ``with`` block as (part of) stage ``name`` of the current request."""
    started = time.perf_counter()
    try:
        yield
    finally:
        record(name, time.perf_counter() - started)
