"""Strict input: one JSON document without duplicate keys, NaN or deep nesting; text without control or
bidi-override characters; times and dates as ISO strings in a sane window. Every refusal is a clear error."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.factories import make_event
from triage.core.errors import MalformedRequest
from triage.strict_input import MAX_JSON_DEPTH, parse_strict_json

CONTROL = [chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F, 0x85]]
BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "\u200f"]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b'{"a": 1, "a": 2}', "repeats the key 'a'"),
        (b'{"a": {"b": 1, "b": 1}}', "repeats the key 'b'"),
        (b'{"a": NaN}', "NaN"),
        (b'{"a": -Infinity}', "-Infinity"),
        (b"[" * 1000 + b"]" * 1000, "nested deeper"),
        (b'{"a":' * 5000 + b"1" + b"}" * 5000, "nested deeper"),
        (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), "nested deeper"),
        (b'{"a": 1} {"b": 2}', "not valid JSON"),
        (b"\xff\xfe", "not valid UTF-8"),
    ],
)
def test_malformed_bodies_are_refused_with_a_reason(body: bytes, says: str) -> None:
    with pytest.raises(MalformedRequest, match=says.replace("(", r"\(")):
        parse_strict_json(body)


def test_nesting_up_to_the_limit_is_accepted() -> None:
    body = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert parse_strict_json(body) is not None


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
        max_leaves=20,
    )
)
def test_any_document_without_duplicates_round_trips(value: Any) -> None:
    assert parse_strict_json(json.dumps(value).encode()) == value


@pytest.mark.parametrize("char", CONTROL + BIDI, ids=lambda c: f"U+{ord(c):04X}")
@pytest.mark.parametrize(
    "field",
    [
        "exception_code",
        "description",
        "customer_message",
        "context_key",
        "context_value",
        "order_id",
        "carrier",
    ],
)
def test_control_and_bidi_characters_are_refused_everywhere(field: str, char: str) -> None:
    text = f"A{char}B"
    overrides: dict[str, Any] = {
        "exception_code": {"exception_code": text},
        "description": {"description": text},
        "customer_message": {"customer_message": text},
        "context_key": {"context": {text: "v"}},
        "context_value": {"context": {"k": text}},
        "order_id": {"order": {"order_id": text}},
        "carrier": {"order": {"carrier": text}},
    }[field]
    with pytest.raises(ValidationError, match=r"control or bidi-override|pattern"):
        make_event(**overrides)


def test_line_breaks_and_tabs_stay_allowed_in_free_text_only() -> None:
    assert make_event(description="line one\nline two\tcol").description == "line one\nline two\tcol"
    with pytest.raises(ValidationError):
        make_event(exception_code="A\nB")


@pytest.mark.parametrize(
    "occurred_at",
    [
        1714550400,
        1714550400.5,
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "1999-12-31T23:59:59Z",
        "2026-05-01T08:00:00",
    ],
)
def test_event_times_are_iso_strings_with_offsets_in_a_sane_window(occurred_at: Any) -> None:
    with pytest.raises(ValidationError):
        make_event(occurred_at=occurred_at)


@pytest.mark.parametrize("order_date", [0, 20260501, "0001-01-01", "9999-12-31"])
def test_business_dates_are_iso_strings_in_a_sane_window(order_date: Any) -> None:
    with pytest.raises(ValidationError):
        make_event(order={"order_date": order_date})
