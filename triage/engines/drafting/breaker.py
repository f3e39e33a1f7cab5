"""A circuit breaker for the LLM endpoint: closed → open after N consecutive failures → one half-open probe
after the cool-down → closed on success, open again on failure.

Thread- and task-safe: every transition happens under one lock and no I/O is done while holding it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

BreakerState = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    def __init__(self, failures: int, cooldown_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        if failures < 1 or cooldown_s <= 0:
            raise ValueError("failures must be >= 1 and cooldown_s > 0")
        self._threshold = failures
        self._cooldown = cooldown_s
        self._clock = clock
        self._lock = threading.Lock()
        self._state: BreakerState = "closed"
        self._consecutive = 0
        self._opened_at = 0.0
        self._probe_in_flight = False
        self.opened_total = 0
        self.rejected_total = 0

    def allow(self) -> bool:
        """Whether a call may go out now; in half-open state only one probe at a time is let through."""
        with self._lock:
            if self._state == "open" and self._clock() - self._opened_at >= self._cooldown:
                self._state = "half_open"
                self._probe_in_flight = False
            if self._state == "closed":
                return True
            if self._state == "half_open" and not self._probe_in_flight:
                self._probe_in_flight = True
                return True
            self.rejected_total += 1
            return False

    def record_success(self) -> None:
        with self._lock:
            self._state = "closed"
            self._consecutive = 0
            self._probe_in_flight = False

    def record_failure(self) -> None:
        with self._lock:
            self._consecutive += 1
            if self._state == "half_open" or self._consecutive >= self._threshold:
                if self._state != "open":
                    self.opened_total += 1
                self._state = "open"
                self._opened_at = self._clock()
            self._probe_in_flight = False

    def release(self) -> None:
        """Give back a half-open probe slot without an outcome (e.g. the call was cancelled)."""
        with self._lock:
            self._probe_in_flight = False

    @property
    def state(self) -> BreakerState:
        with self._lock:
            if self._state == "open" and self._clock() - self._opened_at >= self._cooldown:
                return "half_open"
            return self._state

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            state = self._state
            if state == "open" and self._clock() - self._opened_at >= self._cooldown:
                state = "half_open"
            retry_in = (
                max(0.0, self._cooldown - (self._clock() - self._opened_at)) if state == "open" else 0.0
            )
            return {
                "llm": state,
                "consecutive_failures": self._consecutive,
                "failure_threshold": self._threshold,
                "cooldown_s": self._cooldown,
                "retry_in_s": round(retry_in, 3),
                "opened_total": self.opened_total,
                "rejected_total": self.rejected_total,
            }
