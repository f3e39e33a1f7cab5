"""Refused requests, counted per (key or subject, role, reason) and interval instead of one record each.

The first refusal of a burst is recorded at once (``count`` 1). Later refusals in the same interval are only
counted; when the interval ends, one record carries their count. While a flood goes on, each interval ends
with one record for the previous one, so no request stream grows the audit log faster than one record per
interval per (key, reason), and the counts always add up to the refusals seen. Pure: the caller writes the
entries and supplies the time.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from triage.core.actors import Actor
from triage.domain.audit.records import format_time
from triage.domain.audit.schemas import AuditEntryCreate

MAX_ROUTES = 10
"""Distinct routes named in one aggregated record (the count covers them all)."""

DenialKey = tuple[str, str, str]


@dataclass
class _Window:
    actor: Actor
    reason: str
    started: datetime
    last_at: datetime
    last_route: str
    pending: int = 0
    """Refusals counted in this window but not recorded yet."""
    routes: set[str] = field(default_factory=set)


class DenialAggregator:
    """See the module docstring; not thread-safe (the audit service holds a lock around it)."""

    def __init__(self, interval_s: float) -> None:
        self.interval = timedelta(seconds=interval_s)
        self._windows: dict[DenialKey, _Window] = {}

    def observe(self, actor: Actor, route: str, reason: str, now: datetime) -> list[AuditEntryCreate]:
        """Count one refusal; the entries to append now (often none)."""
        key: DenialKey = (actor.key_id or actor.subject, actor.role_name, reason)
        flooding = key in self._windows and self._windows[key].pending > 0
        due = self.flush(now)
        window = self._windows.get(key)
        if window is not None:
            window.pending += 1
            window.last_at, window.actor, window.last_route = now, actor, route
            if len(window.routes) < MAX_ROUTES:
                window.routes.add(route)
            return due
        if flooding:
            # The flood goes on: this refusal opens the next window and is recorded when that one ends.
            self._windows[key] = _Window(actor, reason, now, now, route, pending=1, routes={route})
            return due
        self._windows[key] = _Window(actor, reason, now, now, route)
        details = {"route": route, "count": 1, "interval_s": self.interval.total_seconds()}
        first = AuditEntryCreate(
            action="access.denied", actor=actor, outcome="denied", reason=reason, details=details
        )
        return [*due, first]

    def flush(self, now: datetime, *, everything: bool = False) -> list[AuditEntryCreate]:
        """Close the windows that have ended (all of them with ``everything``); one entry per window that
        counted refusals it has not recorded."""
        due: list[AuditEntryCreate] = []
        for key, window in list(self._windows.items()):
            if everything or now >= window.started + self.interval:
                del self._windows[key]
                if window.pending:
                    due.append(self._summary(window))
        return due

    def _summary(self, window: _Window) -> AuditEntryCreate:
        details = {
            "route": window.last_route,
            "routes": sorted(window.routes),
            "count": window.pending,
            "interval_s": self.interval.total_seconds(),
            "window_started": format_time(window.started),
            "last_at": format_time(window.last_at),
        }
        return AuditEntryCreate(
            action="access.denied",
            actor=window.actor,
            outcome="denied",
            reason=window.reason,
            details=details,
        )

    def save(self) -> dict[DenialKey, _Window]:
        return copy.deepcopy(self._windows)

    def restore(self, saved: dict[DenialKey, _Window]) -> None:
        """Undo an :meth:`observe` or :meth:`flush` whose entries could not be written."""
        self._windows = saved
