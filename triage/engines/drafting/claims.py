"""Finding the checkable statements in a text: dates, amounts, quantities, ids, personal data, links.

The same extractor reads the drafts and the free-text facts (descriptions, notes), so a template that copies
a fact's text always finds it grounded. Formats are normalised: ``2025-03-04``, ``March 4, 2025`` and
``03/04/2025`` are one date; ``$1,200.00``, ``USD 1200`` and ``1.2K USD`` one amount; ``240 units`` and
``240 EA`` one quantity.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Literal

from triage.engines.drafting.numbers import shift, to_decimal

ClaimKind = Literal[
    "placeholder",
    "url",
    "email",
    "iban",
    "card",
    "phone",
    "date",
    "time",
    "amount",
    "percent",
    "duration",
    "ordinal",
    "quantity",
    "id",
    "year",
    "number",
]
NUMERIC_KINDS = frozenset({"amount", "percent", "duration", "quantity", "number", "year", "ordinal"})
_DIGITLESS = frozenset({"url", "email"})  # every other claim has a digit in it
PII_KINDS = frozenset({"email", "iban", "card", "phone"})

MONTHS = {
    "jan": 1,
    "january": 1,
    "feb": 2,
    "february": 2,
    "mar": 3,
    "march": 3,
    "apr": 4,
    "april": 4,
    "may": 5,
    "jun": 6,
    "june": 6,
    "jul": 7,
    "july": 7,
    "aug": 8,
    "august": 8,
    "sep": 9,
    "sept": 9,
    "september": 9,
    "oct": 10,
    "october": 10,
    "nov": 11,
    "november": 11,
    "dec": 12,
    "december": 12,
}
WEEKDAYS = {"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6}
_MONTH = r"(?P<mon>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_WEEKDAY = r"\b(?:(?P<wd>" + "|".join(WEEKDAYS) + r"),?\s+)?(?:the\s+)?"
_ORD = r"(?:st|nd|rd|th)?"
_NUM = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_SCALE = r"(?:\s?(?P<scale>k|K|thousand|million|mio|M|bn|billion)\b)?"
_B = r"(?<![\w.,/#:-])"  # a number starts here, not inside an id or another number
_E = r"(?![\w/#-]|[.,]\d)"  # ... and ends here
SCALES = {"k": 3, "thousand": 3, "million": 6, "mio": 6, "m": 6, "bn": 9, "billion": 9}
"""Each scale word as a power of ten, so scaling a number of any size stays exact."""
CURRENCY_SYMBOLS = {"$": "USD", "US$": "USD", "€": "EUR", "£": "GBP", "C$": "CAD", "CA$": "CAD", "A$": "AUD"}

_PLAIN_NUMBER = re.compile(r"\d+(?:\.\d+)?")

_CURRENCY_WORDS = {"EURO": "EUR", "EUROS": "EUR", "POUNDS STERLING": "GBP"}

DatePart = tuple[int | None, int, int | None]
"""(year or None, month, day or None): one reading of a written date."""


@dataclass(frozen=True)
class Claim:
    """One checkable statement found in a text, at ``text[start:end]``."""

    kind: ClaimKind
    span: str
    start: int
    end: int
    number: Decimal | None = None
    key: str | None = None
    """Normalised text for ids, personal data and links (lower case, separators removed)."""
    dates: tuple[DatePart, ...] = ()
    weekday: int | None = None
    currency: str | None = None
    """ISO code of an amount when the text names it ($, EUR ...)."""


def id_key(value: str) -> str:
    return re.sub(r"[^0-9a-z]", "", value.lower())


def parse_number(text: str, scale: str | None = None) -> Decimal | None:
    """The exact value of ``1,200.5`` (times its scale word, ``k`` or ``million``); ``None`` when it is no
    finite number. Never raises, whatever the size or the digits (``٣`` is 3)."""
    value = to_decimal(text.replace(",", ""))
    if value is None or not scale:
        return value
    places = SCALES.get(scale.lower())
    return None if places is None else shift(value, places)


def _year(text: str | None) -> int | None:
    if not text:
        return None
    year = int(text)
    return year + 2000 if year < 100 else year


def _valid(year: int | None, month: int, day: int | None) -> bool:
    if not 1 <= month <= 12:
        return False
    if day is None:
        return True
    try:
        date(year or 2024, month, day)  # 2024: a leap year, so 29 February is possible
    except ValueError:
        return False
    return True


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _iban_ok(compact: str) -> bool:
    rearranged = compact[4:] + compact[:4]
    numeric = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(numeric) % 97 == 1


class ClaimExtractor:
    """Extracts claims; ``units`` and ``currencies`` come from the fact-check configuration."""

    def __init__(self, units: Iterable[str], currencies: Iterable[str]) -> None:
        unit_alt = "|".join(sorted({re.escape(u) for u in units}, key=len, reverse=True)) or "units"
        codes = sorted({c.upper() for c in currencies} | set(CURRENCY_SYMBOLS.values()))
        code_alt = "|".join(codes)
        sym_alt = "|".join(re.escape(s) for s in sorted(CURRENCY_SYMBOLS, key=len, reverse=True))
        i = re.IGNORECASE
        self._patterns: list[tuple[ClaimKind, re.Pattern[str]]] = [
            ("placeholder", re.compile(r"\[(?:EMAIL|PHONE|CARD|IBAN|ACCOUNT|NAME)_\d+\]")),
            ("url", re.compile(r"\b(?:https?://|www\.)[^\s<>\"')\]]+", i)),
            ("email", re.compile(r"\b[\w.%+-]+@[\w-]+(?:\.[\w-]+)+\b")),
            ("iban", re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b")),
            (
                "date",
                re.compile(
                    r"(?<![\w.])(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})"
                    r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?(?![\w/]|\.\d)"
                ),
            ),
            (
                "date",
                re.compile(
                    r"(?<![\w/.:-])(?P<a>\d{1,2})(?P<sep>[/.-])(?P<b>\d{1,2})(?P=sep)(?P<y>\d{4}|\d{2})(?![\w/-]|\.\d)"
                ),
            ),
            (
                "date",
                re.compile(_WEEKDAY + _MONTH + r"\s+(?P<d>\d{1,2})" + _ORD + r"(?:,?\s+(?P<y>\d{4}))?\b", i),
            ),
            (
                "date",
                re.compile(
                    _WEEKDAY
                    + r"(?<![\w.,/-])(?P<d>\d{1,2})"
                    + _ORD
                    + r"(?:\s+of)?[\s-]+"
                    + _MONTH
                    + r"(?:(?:,?\s+|-)(?P<y>\d{4}|\d{2}(?!\d)))?\b",
                    i,
                ),
            ),
            ("date", re.compile(r"\b" + _MONTH + r",?\s+(?P<y>\d{4})\b", i)),
            ("date", re.compile(r"(?<![\w/.:,-])(?P<a>\d{1,2})/(?P<b>\d{1,2})(?![\w/]|[.,]\d)")),
            (
                "time",
                re.compile(r"(?<![\w.:])\d{1,2}:\d{2}(?::\d{2})?(?:\s?(?:am|pm|a\.m\.|p\.m\.))?(?!\w)", i),
            ),
            ("time", re.compile(r"(?<![\w.:])\d{1,2}\s?(?:am|pm|a\.m\.|p\.m\.)(?!\w)", i)),
            ("card", re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])")),
            ("phone", re.compile(r"(?<![\w+])\+\d{1,3}(?:[\s.-]?\(?\d{1,4}\)?){2,5}(?![\w-])")),
            ("phone", re.compile(r"(?<![\w(])(?:\(\d{3}\)\s?|\d{3}[-.\s])\d{3}[-.\s]\d{4}(?![\w-])")),
            (
                "amount",
                re.compile(
                    r"(?:(?P<sym>"
                    + sym_alt
                    + r")\s?|\b(?P<code>"
                    + code_alt
                    + r")\s?)"
                    + r"(?P<n>"
                    + _NUM
                    + r")"
                    + _SCALE
                ),
            ),
            (
                "amount",
                re.compile(
                    _B
                    + r"(?P<n>"
                    + _NUM
                    + r")"
                    + _SCALE
                    + r"\s?(?P<code2>"
                    + code_alt
                    + r"|dollars?|euros?|pounds sterling)\b",
                    i,
                ),
            ),
            ("percent", re.compile(_B + r"(?P<n>" + _NUM + r")\s?(?:%|percent\b|per cent\b|pct\b)", i)),
            (
                "duration",
                re.compile(
                    _B + r"(?P<n>" + _NUM + r")[\s-]?(?:(?:business|working|calendar)\s+)?"
                    r"(?:days?|hours?|hrs?|h|weeks?|wks?|months?|mins?|minutes?)\b",
                    i,
                ),
            ),
            ("ordinal", re.compile(_B + r"(?P<n>\d{1,2})(?:st|nd|rd|th)\b", i)),
            (
                "quantity",
                re.compile(_B + r"(?P<n>" + _NUM + r")" + _SCALE + r"[\s-]?(?:" + unit_alt + r")\b", i),
            ),
            # An id has a digit (``_looks_like_id``): the lookahead skips the plain words, which are most of a
            # text, inside the regex instead of one Python call each. It only removes matches: no match can
            # start inside a skipped word (the lookbehind refuses every character a word is made of).
            (
                "id",
                re.compile(
                    r"(?<![\w#./:-])(?=[-#A-Za-z0-9/:._]*\d)#?[A-Za-z0-9]+(?:[-/#:._][A-Za-z0-9]+)*(?!\w)"
                ),
            ),
            ("year", re.compile(r"(?<![\w.,/#:-])(?:19|20)\d{2}(?![\w/#-]|[.,]\d)")),
            ("number", re.compile(_B + r"(?P<n>" + _NUM + r")" + _SCALE + _E)),
        ]
        self._list_marker = re.compile(r"(?m)^\s*\d{1,2}[.)]\s")

    def extract(self, text: str) -> list[Claim]:
        """All claims in ``text``, earliest first; each character belongs to at most one claim."""
        return list(self._extract(text))

    @lru_cache(maxsize=4096)  # noqa: B019 - one extractor per configuration, kept for the process
    def _extract(self, text: str) -> tuple[Claim, ...]:
        has_digit = any(ch.isdigit() for ch in text)
        taken = bytearray(len(text))
        for marker in self._list_marker.finditer(text):
            taken[marker.start() : marker.end()] = b"\x01" * (marker.end() - marker.start())
        claims: list[Claim] = []
        for kind, pattern in self._patterns:
            if not has_digit and kind not in _DIGITLESS:
                continue
            for match in pattern.finditer(text):
                start, end = match.span()
                if start == end or any(taken[start:end]):
                    continue
                claim = self._claim(kind, match)
                if claim is None:
                    continue
                claims.append(claim)
                taken[start:end] = b"\x01" * (end - start)
        claims.sort(key=lambda c: c.start)
        return tuple(claims)

    def _claim(self, kind: ClaimKind, match: re.Match[str]) -> Claim | None:
        span, start, end = match.group(0), match.start(), match.end()
        groups = match.groupdict()
        if kind == "date":
            return self._date(span, start, end, groups)
        if kind in _KEYED:
            return _keyed_claim(kind, span, start, end)
        number = parse_number(groups.get("n") or span, groups.get("scale"))
        if number is None:
            return None
        currency = None
        if kind == "amount":
            sign = groups.get("sym")
            code = (groups.get("code") or groups.get("code2") or "").upper()
            currency = CURRENCY_SYMBOLS.get(sign or "") or (
                code if len(code) == 3 else _CURRENCY_WORDS.get(code)
            )
        return Claim(kind, span, start, end, number=number, currency=currency)

    @staticmethod
    def _date(span: str, start: int, end: int, g: dict[str, str | None]) -> Claim | None:
        year = _year(g.get("y"))
        readings: list[DatePart] = []
        if g.get("mon"):
            month = MONTHS[(g["mon"] or "").lower().rstrip(".")]
            day = int(g.get("d") or 0) or None
            readings.append((year, month, day))
        elif g.get("a"):
            a, b = int(g["a"] or 0), int(g["b"] or 0)
            readings.extend([(year, a, b), (year, b, a)])  # US month/day and day/month readings
        else:
            readings.append((year, int(g["m"] or 0), int(g["d"] or 0)))
        valid = tuple(dict.fromkeys(r for r in readings if _valid(*r)))
        if not valid:
            return None
        weekday = WEEKDAYS[(g.get("wd") or "").lower()] if g.get("wd") else None
        return Claim("date", span, start, end, dates=valid, weekday=weekday)


def date_matches(claim: Claim, fact: date) -> bool:
    """Whether one reading of a written date is ``fact`` (missing year or day match any)."""
    if claim.weekday is not None and fact.weekday() != claim.weekday:
        return False
    return any(
        (y is None or y == fact.year) and m == fact.month and (d is None or d == fact.day)
        for y, m, d in claim.dates
    )


_KEYED = frozenset({"url", "placeholder", "email", "iban", "card", "phone", "time", "id"})
"""Claim kinds compared by a normalised key rather than by value."""


def _keyed_claim(kind: ClaimKind, span: str, start: int, end: int) -> Claim | None:
    """A claim compared by its normalised text, or None when the span is not really of ``kind``."""
    key: str | None = span.lower()
    if kind == "url":
        span = span.rstrip(".,;:!?")
        end, key = start + len(span), span.lower()
    elif kind == "iban":
        compact = span.replace(" ", "")
        key = id_key(compact) if _iban_ok(compact) else None
    elif kind in ("card", "phone"):
        digits = re.sub(r"\D", "", span)
        valid = _luhn(digits) if kind == "card" else 9 <= len(digits) <= 15
        key = digits if valid else None
    elif kind == "id":
        key = id_key(span) if _looks_like_id(span) else None
    return Claim(kind, span, start, end, key=key) if key is not None else None


def _looks_like_id(span: str) -> bool:
    """ "#4471" and "SO-1001" are ids; a plain number ("4471") is not."""
    if not re.search(r"\d", span) or _PLAIN_NUMBER.fullmatch(span):
        return False
    labelled = span.startswith("#")
    return labelled or bool(re.search(r"[A-Za-z]", span)) or bool(re.search(r"\d[-/#:._]\d", span))
