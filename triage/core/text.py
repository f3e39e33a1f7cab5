"""Text and time that come from outside, constrained once: no control or bidi-override characters, dates in a
sane window, given as ISO 8601 strings (not epoch numbers).

Free text may hold tabs and line breaks; single-line text (identifiers, keys, codes) may not. Bidirectional
overrides and isolates are refused everywhere: they make text read differently from what it stores (the
"Trojan Source" trick), which matters for what an agent approves and what the audit log shows.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_FREE_TEXT_FORBIDDEN = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_BIDI}\ufffd]")
_SINGLE_LINE_FORBIDDEN = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}\ufffd]")

EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2100, 12, 31)
FUTURE_SKEW = timedelta(days=1)
"""How far ahead of the server's clock an event's time may be (clock skew between systems)."""


def _describe(char: str) -> str:
    return f"U+{ord(char):04X}"


def free_text(value: str) -> str:
    """Text that may span lines: refuses control characters (other than tab and line breaks) and bidi controls."""
    found = _FREE_TEXT_FORBIDDEN.search(value)
    if found:
        raise ValueError(
            f"must not contain control or bidi-override characters (found {_describe(found.group())})"
        )
    return value


def single_line(value: str) -> str:
    """An identifier, key or code: refuses every control character, line breaks included, and bidi controls."""
    found = _SINGLE_LINE_FORBIDDEN.search(value)
    if found:
        raise ValueError(
            f"must not contain control or bidi-override characters (found {_describe(found.group())})"
        )
    return value


def _iso_string(value: Any) -> Any:
    """JSON gives times as strings; Python callers may pass date objects. Epoch numbers are refused."""
    if not isinstance(value, str | date):
        raise ValueError("must be an ISO 8601 string (e.g. 2026-05-01T08:00:00Z), not a number")
    return value


def event_time(value: datetime) -> datetime:
    """A moment with a timezone offset, from 2000 up to a day past now."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must carry a timezone offset, e.g. 2026-05-01T08:00:00Z")
    latest = datetime.now(UTC) + FUTURE_SKEW
    if not datetime(EARLIEST_DATE.year, 1, 1, tzinfo=UTC) <= value <= latest:
        raise ValueError(f"must lie between {EARLIEST_DATE.isoformat()} and {latest.date().isoformat()}")
    return value


def business_date(value: date) -> date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValueError(f"must lie between {EARLIEST_DATE.isoformat()} and {LATEST_DATE.isoformat()}")
    return value


FreeText = Annotated[str, AfterValidator(free_text)]
SingleLine = Annotated[str, AfterValidator(single_line)]
EventTime = Annotated[datetime, BeforeValidator(_iso_string), AfterValidator(event_time)]
BusinessDate = Annotated[date, BeforeValidator(_iso_string), AfterValidator(business_date)]


def query_time(value: datetime | None, name: str) -> datetime | None:
    """A time given as a query filter, in UTC: ``ValueError`` when it has no offset or cannot be in UTC
    (the ends of the datetime range shifted past year 1 or 9999)."""
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must carry a timezone offset, e.g. 2026-05-01T08:00:00Z")
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(f"{name} is outside the range of dates this service handles") from exc
