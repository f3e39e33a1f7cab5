"""Properties of the parsers that read what clients send: any string is a valid cursor or a clear InvalidInput,
any time is a query time in UTC or a clear ValueError, and what the service encodes it decodes to the same."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from triage.core.errors import InvalidInput
from triage.core.paging import INT64_MAX, decode_cursor, encode_cursor
from triage.core.text import query_time

aware = st.datetimes(
    timezones=st.builds(
        timezone, st.timedeltas(min_value=-timedelta(hours=23), max_value=timedelta(hours=23))
    )
)


@given(st.text(max_size=600))
def test_any_string_is_a_cursor_or_a_clear_refusal(text: str) -> None:
    for kinds in ((int,), (datetime, str)):
        with contextlib.suppress(InvalidInput):
            decode_cursor(text, *kinds)


@given(st.integers(min_value=0, max_value=INT64_MAX))
def test_an_offset_round_trips(value: int) -> None:
    assert decode_cursor(encode_cursor(value), int) == (value,)


@given(aware, st.text(min_size=1, max_size=64).filter(str.isprintable))
def test_a_position_round_trips(moment: datetime, case_id: str) -> None:
    assert decode_cursor(encode_cursor(moment, case_id), datetime, str) == (moment, case_id)


@given(st.integers(min_value=INT64_MAX + 1) | st.integers(max_value=-1))
def test_numbers_out_of_range_are_refused(value: int) -> None:
    try:
        decode_cursor(encode_cursor(value), int)
    except InvalidInput:
        return
    raise AssertionError(f"{value} was accepted")


@given(st.datetimes() | aware)
def test_any_query_time_is_utc_or_a_clear_refusal(moment: datetime) -> None:
    try:
        result = query_time(moment, "since")
    except ValueError as exc:
        assert "since" in str(exc)
        return
    assert result is not None and result.tzinfo == UTC and result == moment
