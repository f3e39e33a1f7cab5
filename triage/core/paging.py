"""Paging: the page-size ceiling and the one cursor codec every listing uses.

A cursor is opaque to clients: URL-safe base64 of a small JSON array of typed parts (strings, integers,
aware datetimes). Anything that is not exactly what this service produced is ``InvalidInput`` (400/422),
never a 500: wrong length, wrong types, naive datetimes, out-of-range integers, deep nesting.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from triage.core.errors import InvalidInput

MAX_PAGE = 200
"""Most items one page of cases or review items holds (the audit log allows more, see its service)."""
MAX_CURSOR_CHARS = 1024
INT64_MAX = 2**63 - 1

CursorPart = str | int | datetime
_BAD = "cursor is not one this service returned as next_cursor"


def clamp_limit(limit: int, maximum: int = MAX_PAGE) -> int:
    return max(1, min(limit, maximum))


def encode_cursor(*parts: CursorPart) -> str:
    """An opaque cursor holding ``parts`` (datetimes must be timezone-aware)."""
    encoded: list[Any] = []
    for part in parts:
        if isinstance(part, datetime):
            encoded.append({"t": part.isoformat()})
        else:
            encoded.append(part)
    raw = json.dumps(encoded, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *kinds: type[CursorPart]) -> tuple[Any, ...]:
    """The parts of a cursor made by :func:`encode_cursor`, checked against ``kinds`` one by one."""
    if not cursor or len(cursor) > MAX_CURSOR_CHARS or not cursor.isascii():
        raise InvalidInput(_BAD)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(raw)
    except (ValueError, binascii.Error, RecursionError) as exc:
        raise InvalidInput(_BAD) from exc
    if not isinstance(parts, list) or len(parts) != len(kinds):
        raise InvalidInput(_BAD)
    return tuple(_part(value, kind) for value, kind in zip(parts, kinds, strict=True))


def _part(value: Any, kind: type[CursorPart]) -> CursorPart:
    if kind is datetime:
        text = value.get("t") if isinstance(value, dict) and len(value) == 1 else None
        if not isinstance(text, str):
            raise InvalidInput(_BAD)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError as exc:
            raise InvalidInput(_BAD) from exc
        if moment.tzinfo is None:
            raise InvalidInput(_BAD)
        return moment
    if kind is int:
        if type(value) is not int or not 0 <= value <= INT64_MAX:
            raise InvalidInput(_BAD)
        return value
    if not isinstance(value, str) or not value.isprintable() or len(value) > 128:
        raise InvalidInput(_BAD)
    return value
