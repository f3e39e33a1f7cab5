"""The background escalation of items past their review SLA (the app's lifespan runs the loop)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

log = logging.getLogger(__name__)


class Escalating(Protocol):
    def escalate_overdue(self, now: datetime | None = None) -> int: ...


async def run_escalation_loop(
    reviews: Escalating,
    interval_s: float,
    stop: asyncio.Event,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> None:
    """Escalate overdue items every ``interval_s`` seconds until ``stop`` is set.

    Safe with several workers: each item is escalated by exactly one of them (see ``escalate_overdue``).
    """
    while not stop.is_set():
        try:
            escalated = await asyncio.to_thread(reviews.escalate_overdue, clock())
            if escalated:
                log.info("escalated %d overdue review items", escalated)
        except Exception as exc:  # noqa: BLE001 - a transient failure must not end the loop; it is logged
            log.warning("escalation run failed: %s", exc)
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
        except TimeoutError:
            continue
