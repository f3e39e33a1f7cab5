"""Progress of long steps on stderr: a tqdm bar on a terminal, a plain line every few seconds elsewhere.

Nothing shows for a step's first ``FIRST_REPORT_S`` seconds; every step ends with one line giving its duration,
``<name>: done in <seconds> s`` (``eval/first_run.py`` reads these). A step opened inside another pauses the
outer one's display, so one thing moves at a time, and its lines are indented by two spaces per level.

(Used by classifier training and by indexing; it lives here only until it gets a module of its own.)
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TextIO

FIRST_REPORT_S = 2.0
LINE_EVERY_S = 5.0
BAR_EVERY_S = 0.5

_open_steps: ContextVar[tuple[Step, ...]] = ContextVar("open_steps", default=())


class Step:
    """One running step: ``update(n)`` counts work done; ``seconds`` is its duration once it has ended."""

    def __init__(self, report: Progress, name: str, total: int | None, unit: str, depth: int) -> None:
        self.name = name
        self.total = total
        self.unit = unit
        self.done = 0
        self.seconds = 0.0
        self._report = report
        self._indent = "  " * depth
        self._started = time.monotonic()
        self._lock = threading.Lock()
        self._paused = False
        self._stopped = threading.Event()
        self._bar: Any = None
        self._thread: threading.Thread | None = None

    def update(self, n: int = 1) -> None:
        self.done += n

    def _start(self) -> None:
        if self._report.enabled:
            self._thread = threading.Thread(target=self._watch, name=f"progress:{self.name}", daemon=True)
            self._thread.start()

    def _watch(self) -> None:
        every = BAR_EVERY_S if self._report.terminal else LINE_EVERY_S
        wait = FIRST_REPORT_S
        while not self._stopped.wait(wait):
            wait = every
            with self._lock:
                if not self._paused:
                    self._show()

    def _show(self) -> None:
        elapsed = time.monotonic() - self._started
        if not self._report.terminal:
            status = f"{self._counted()}, {elapsed:.0f} s" if self.done else f"{self.name}: {elapsed:.0f} s"
            self._report.say(self._indent + status)
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(
                total=self.total,
                initial=self.done,
                desc=f"{self._indent}{self.name}",
                unit=self.unit or "it",
                leave=False,
                file=self._report.stream,
                bar_format=None if self.unit else "{desc}: {elapsed}",
            )
        self._bar.n = self.done
        self._bar.refresh()

    def _counted(self) -> str:
        if self.total:
            return f"{self.name} {self.done}/{self.total} ({100 * self.done // self.total}%)"
        return f"{self.name} {self.done} {self.unit}".rstrip()

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _pause(self, paused: bool) -> None:
        with self._lock:
            self._paused = paused
            if paused:
                self._close_bar()

    def _end(self, failed: bool) -> None:
        self.seconds = time.monotonic() - self._started
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            self._close_bar()
        outcome = "failed after" if failed else "done in"
        self._report.say(f"{self._indent}{self.name}: {outcome} {self.seconds:.1f} s")


class Progress:
    """Reports steps on ``stream`` (stderr by default); ``enabled=False`` times them silently."""

    def __init__(self, enabled: bool = True, *, stream: TextIO | None = None) -> None:
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.terminal = enabled and self.stream.isatty()

    def say(self, message: str) -> None:
        if self.enabled:
            print(message, file=self.stream, flush=True)

    @contextmanager
    def step(self, name: str, *, total: int | None = None, unit: str = "") -> Iterator[Step]:
        """Time the ``with`` block as step ``name`` (``total`` units of work, counted by ``Step.update``)."""
        outer = _open_steps.get() if self.enabled else ()
        step = Step(self, name, total, unit, len(outer))
        if not self.enabled:
            yield step  # timed, never shown, and the outer step keeps showing
            step.seconds = time.monotonic() - step._started
            return
        if outer:
            outer[-1]._pause(True)
        token = _open_steps.set((*outer, step))
        step._start()
        failed = True
        try:
            yield step
            failed = False
        finally:
            step._end(failed)
            _open_steps.reset(token)
            if outer:
                outer[-1]._pause(False)
