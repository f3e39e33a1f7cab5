"""Template filters: times, shares and names as a reviewer reads them (no Litestar, no database)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def words(value: str | None) -> str:
    """``inventory_shortage`` → ``inventory shortage``."""
    return (value or "").replace("_", " ")


def percent(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def stamp(value: datetime | None) -> str:
    """An absolute time, to the minute, in UTC."""
    return "—" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def clock(value: datetime | None) -> str:
    return "—" if value is None else value.astimezone(UTC).strftime("%H:%M")


def relative(value: datetime | None, now: datetime | None = None) -> str:
    """``in 3 h`` / ``25 min ago``: how far a time is from now."""
    if value is None:
        return "no SLA"
    now = now or datetime.now(UTC)
    seconds = (value - now).total_seconds()
    span = abs(seconds)
    if span < 3600:
        text = f"{max(1, round(span / 60))} min"
    elif span < 48 * 3600:
        text = f"{span / 3600:.0f} h"
    else:
        text = f"{span / 86400:.0f} d"
    return f"in {text}" if seconds >= 0 else f"{text} ago"


def hours(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 60:.0f} min" if value < 1 else f"{value:.1f} h"


FILTERS: dict[str, Any] = {
    "words": words,
    "percent": percent,
    "stamp": stamp,
    "clock": clock,
    "relative": relative,
    "hours": hours,
}
