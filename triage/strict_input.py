"""Request bodies are read strictly: ``application/json`` only, one JSON document, no duplicate keys, no
``NaN``/``Infinity``, nesting bounded. Each refusal is a clear 4xx (400 or 415), never a 500.

Litestar reads a handler's ``data`` through ``Request.json()``; the app uses :class:`StrictJSONRequest` as its
request class, so every route that takes a body gets the same rules.
"""

from __future__ import annotations

import json
from typing import Any

from litestar import Request

from triage.core.errors import MalformedRequest, UnsupportedMediaType

MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays and objects a body may have; the deepest schema needs 5."""
JSON_MEDIA_TYPES = ("application/json",)


class StrictJSONRequest(Request[Any, Any, Any]):
    async def json(self) -> Any:
        media_type = self.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type not in JSON_MEDIA_TYPES and not media_type.endswith("+json"):
            shown = media_type or "none"
            raise UnsupportedMediaType(f"send the body as application/json (Content-Type was {shown})")
        return parse_strict_json(await self.body())


def parse_strict_json(body: bytes) -> Any:
    """The one JSON document in ``body``, or ``MalformedRequest`` saying what is wrong with it."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedRequest(
            f"the request body is not valid UTF-8 ({exc.reason} at byte {exc.start})"
        ) from exc
    try:
        value = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except RecursionError as exc:
        raise MalformedRequest(f"the JSON body is nested deeper than {MAX_JSON_DEPTH} levels") from exc
    except json.JSONDecodeError as exc:
        raise MalformedRequest(
            f"the body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from exc
    if _depth(value) > MAX_JSON_DEPTH:
        raise MalformedRequest(f"the JSON body is nested deeper than {MAX_JSON_DEPTH} levels")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise MalformedRequest(f"the JSON body repeats the key {key!r}; each key may appear once")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise MalformedRequest(f"the JSON body contains {name}, which is not a JSON number")


def _depth(value: Any) -> int:
    """Nesting depth of a parsed document, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest
