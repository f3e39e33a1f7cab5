"""Fact-check of a draft against the case's fact sheet, before anyone sees it.

Every date, amount, quantity, percentage, duration, number, id and tracking number in the draft must be one of
the facts the audience may be told; a customer update must not carry internal-only values or wording, personal
data, links, or text echoed from a prompt injection. Findings carry the offending span and its offsets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from triage.engines.drafting.claims import NUMERIC_KINDS, PII_KINDS, Claim, date_matches
from triage.engines.drafting.factcheck_config import CheckName, FactCheckConfig
from triage.engines.drafting.facts import Fact, FactSheet
from triage.engines.drafting.models import Audience, Finding
from triage.engines.drafting.numbers import plain_integer, same_amount, shift

# Which kinds of fact can ground which kind of claim ("number" facts are untyped context values).
_GROUNDS: dict[str, frozenset[str]] = {
    "amount": frozenset({"amount", "number"}),
    "quantity": frozenset({"quantity", "number"}),
    "percent": frozenset({"percent", "number"}),
    "duration": frozenset({"duration", "number"}),
    "ordinal": frozenset({"ordinal", "number"}),
    "year": frozenset({"year", "number"}),
    "number": frozenset(NUMERIC_KINDS),
}
# Labels people put in front of an id: "PO#7781" is the fact "7781".
_ID_LABELS = ("po", "so", "sku", "line", "ln", "order", "ord", "no", "pro", "trk", "tracking", "item", "case")
_YEAR_DIGITS = 4
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
CUSTOMER_MESSAGE = "event.customer_message"
_SIGNIFICANT = 5  # letters: shorter words ("with", "the") alone never make a shared run
KIND_NAMES = {
    "amount": "amount",
    "quantity": "quantity",
    "percent": "percentage",
    "duration": "duration",
    "ordinal": "day",
    "year": "year",
    "number": "number",
    "id": "id",
    "time": "time",
    "date": "date",
}


def _same_number(claim: Claim, fact: Fact) -> bool:
    if claim.number is None or fact.number is None:
        return False
    if claim.currency and fact.currency and claim.currency != fact.currency:
        return False
    a, b = claim.number, fact.number
    if not (a.is_finite() and b.is_finite()):
        return False
    if a == b:
        return True
    if claim.kind == "amount" or fact.kind == "amount":
        return same_amount(a, b)
    if claim.kind == "percent" and fact.kind == "number" and b < 1:
        return a == shift(b, 2)
    return False


class _Grounds:
    """Facts grouped by kind, so a claim is compared only with the facts that could ground it."""

    def __init__(self, facts: Iterable[Fact]) -> None:
        self.by_kind: dict[str, list[Fact]] = {}
        for fact in facts:
            self.by_kind.setdefault(fact.kind, []).append(fact)
        self.numeric = {kind: self._of(kinds) for kind, kinds in _GROUNDS.items()}

    def _of(self, kinds: Iterable[str]) -> list[Fact]:
        return [fact for kind in kinds for fact in self.by_kind.get(kind, ())]

    def __bool__(self) -> bool:
        return bool(self.by_kind)

    def grounded(self, claim: Claim) -> bool:
        kind, by_kind = claim.kind, self.by_kind
        if kind == "date":
            return any(_dates_match(claim, fact) for fact in by_kind.get("date", ()))
        if kind in _GROUNDS:
            if any(_same_number(claim, fact) for fact in self.numeric[kind]):
                return True
            digits = None if claim.number is None else plain_integer(claim.number)
            if digits is None:
                return False
            if kind in ("year", "ordinal"):
                return any(_date_part(claim, digits, fact) for fact in by_kind.get("date", ()))
            return kind == "number" and any(_number_in_id(digits, fact) for fact in by_kind.get("id", ()))
        if kind == "id" or kind in PII_KINDS:
            key = claim.key or ""
            candidates = by_kind.get("id", []) + (by_kind.get(kind, []) if kind != "id" else [])
            return any(fact.key is not None and _same_id(key, fact.key) for fact in candidates)
        return any(fact.key == claim.key for fact in by_kind.get(kind, ()))


def _number_in_id(digits: str, fact: Fact) -> bool:
    """A bare number (``digits``, see ``plain_integer``) that is (a digit group of) an id: "10023" of
    "SO-10023"."""
    if fact.key is None:
        return False
    return digits == fact.key.lstrip("0") or digits in _digit_groups(fact.key)


@lru_cache(maxsize=4096)
def _digit_groups(key: str) -> tuple[str, ...]:
    return tuple(re.findall(r"\d+", key))


def _same_id(claim_key: str, fact_key: str) -> bool:
    if claim_key == fact_key:
        return True
    prefix = claim_key[: len(claim_key) - len(fact_key)]
    return claim_key.endswith(fact_key) and prefix in _ID_LABELS


def _dates_match(claim: Claim, fact: Fact) -> bool:
    if fact.exact_date is not None:
        return date_matches(claim, fact.exact_date)
    return any(
        (cy is None or fy is None or cy == fy) and cm == fm and (cd is None or fd is None or cd == fd)
        for cy, cm, cd in claim.dates
        for fy, fm, fd in fact.dates
    )


def _date_part(claim: Claim, digits: str, fact: Fact) -> bool:
    if len(digits) > _YEAR_DIGITS:
        return False
    value = int(digits)
    if claim.kind == "year":
        return any(y == value for y, _, _ in fact.dates)
    return any(d == value for _, _, d in fact.dates)


def _describe(claim: Claim) -> str:
    return KIND_NAMES.get(claim.kind, claim.kind)


class _Findings:
    def __init__(self, config: FactCheckConfig, audience: Audience) -> None:
        self.config, self.audience = config, audience
        self.items: list[Finding] = []

    def add(self, check: CheckName, span: str, message: str, start: int | None, end: int | None) -> None:
        conf = self.config.check(check, self.audience)
        if conf is None:
            return
        if any(f.check == check and f.start == start and f.end == end for f in self.items):
            return
        self.items.append(Finding(check, conf.severity, span, message, start, end))


def _words(text: str) -> list[tuple[str, int, int]]:
    return [(m.group(0), m.start(), m.end()) for m in _WORD.finditer(text.lower())]


def _shared_run(
    draft: str, source: str, size: int, known: frozenset[str] = frozenset()
) -> tuple[int, int] | None:
    """The first run of ``size`` words the draft shares with ``source``, as draft offsets.

    A run made only of short words and words in ``known`` (the audience's own facts) does not count.
    """
    src = [w for w, _, _ in _words(source)]
    if len(src) < size:
        return None
    shingles = {tuple(src[i : i + size]) for i in range(len(src) - size + 1)}
    words = _words(draft)
    for i in range(len(words) - size + 1):
        run = tuple(w for w, _, _ in words[i : i + size])
        if run in shingles and any(len(w) >= _SIGNIFICANT and w not in known for w in run):
            last = i + size - 1
            while (
                last + 1 < len(words)
                and tuple(w for w, _, _ in words[last + 2 - size : last + 2]) in shingles
            ):
                last += 1
            return words[i][1], words[last][2]
    return None


def _phrase(draft: str, phrase: str) -> re.Match[str] | None:
    parts = [re.escape(p) for p in phrase.split()]
    if not parts:
        return None
    return re.search(r"(?<!\w)" + r"\s+".join(parts) + r"(?!\w)", draft, re.IGNORECASE)


def check_draft(text: str, facts: FactSheet, audience: Audience, config: FactCheckConfig) -> list[Finding]:
    """The fact-check findings of ``text`` written for ``audience``; empty when the draft is grounded."""
    out = _Findings(config, audience)
    allowed = facts.allowed(audience)
    confidential = facts.confidential() if audience == "customer" else []
    grounds, leaks = _Grounds(allowed), _Grounds(confidential)
    for claim in config.extractor.extract(text):
        _check_claim(out, claim, grounds, leaks)
    if audience == "customer":
        _check_confidential_text(out, text, confidential, allowed, config)
    trusted = [f.text.lower() for f in allowed if f.kind == "text" and f.text and f.name != CUSTOMER_MESSAGE]
    _check_patterns(out, text, config, trusted)
    if audience == "customer":
        _check_contradictions(out, text, facts)
    _check_echo(out, text, facts.customer_message, config)
    out.items.sort(key=lambda f: (f.start if f.start is not None else -1, f.check))
    return out.items


def _check_claim(out: _Findings, claim: Claim, allowed: _Grounds, confidential: _Grounds) -> None:
    span, start, end = claim.span, claim.start, claim.end
    if claim.kind == "placeholder":
        out.add(
            "redaction_placeholder",
            span,
            f"redacted personal data {span} must be filled in or removed",
            start,
            end,
        )
        return
    if allowed.grounded(claim):
        return
    if claim.kind == "url":
        out.add("unsupported_link", span, "links are not case facts", start, end)
    elif claim.kind in PII_KINDS:
        out.add("pii", span, f"personal data ({claim.kind}) that is not in the case facts", start, end)
    elif confidential and confidential.grounded(claim):
        out.add(
            "internal_fact_leak", span, f"{_describe(claim)} {span!r} is an internal-only fact", start, end
        )
    else:
        out.add("unsupported_fact", span, f"{_describe(claim)} {span!r} is not in the case facts", start, end)


def _check_confidential_text(
    out: _Findings, text: str, confidential: list[Fact], visible: list[Fact], config: FactCheckConfig
) -> None:
    size = config.echo.confidential_words
    known = frozenset(w for f in visible if f.kind == "text" and f.text for w, _, _ in _words(f.text))
    for fact in confidential:
        if fact.kind != "text" or not fact.text:
            continue
        if len(fact.text.split()) < size:
            match = _phrase(text, fact.text) if len(fact.text) >= 4 else None
            run = match.span() if match else None
        else:
            run = _shared_run(text, fact.text, size, known)
        if run:
            span = text[run[0] : run[1]]
            out.add("internal_fact_leak", span, f"text of the internal-only fact {fact.name}", *run)
    for pattern in config.confidential_term_res:
        for match in pattern.finditer(text):
            out.add("confidential_term", match.group(0), "talks about an internal-only matter", *match.span())


def _check_patterns(out: _Findings, text: str, config: FactCheckConfig, trusted: list[str]) -> None:
    """Wording checks; a phrase copied from a trusted fact (internal note, description) is not flagged."""
    rules: tuple[tuple[CheckName, tuple[re.Pattern[str], ...], str], ...] = (
        ("injection_echo", config.injection_res, "reads like a prompt injection or its echo"),
        ("unsupported_commitment", config.commitment_res, "a promise or approval no fact supports"),
        ("relative_date", config.relative_date_res, "a relative date promise no fact supports"),
    )
    for check, patterns, message in rules:
        for pattern in patterns:
            for match in pattern.finditer(text):
                phrase = match.group(0).lower()
                if not any(phrase in fact for fact in trusted):
                    out.add(check, match.group(0), message, *match.span())


_UNKNOWN_NEW_DATE = re.compile(
    r"\b(?:will|shall|to)\s+(?:confirm|share|send|let you know|advise)\b[^.]{0,60}\bnew\s+"
    r"(?:delivery|arrival|ship(?:ping|ment)?|expected)?\s*(?:date|eta|time)\b"
    r"|\bnew\s+(?:delivery\s+)?(?:date|eta)\s+is\s+(?:not\s+(?:yet\s+)?known|unknown|to\s+be\s+confirmed)\b",
    re.IGNORECASE,
)
_NO_ACTION = re.compile(
    r"\bno\s+(?:further\s+)?action\s+(?:is\s+)?(?:needed|required|necessary)\b", re.IGNORECASE
)
_NEW_DATE_FACTS = ("context.new_eta", "context.new_promised_date")
_ACTION_FACTS = ("context.days_past_due", "context.missing_field")


def _check_contradictions(out: _Findings, text: str, facts: FactSheet) -> None:
    """A customer update must not call a fact unknown that the facts hold, nor tell the customer no action is
    needed when the case needs one from them (an overdue balance, a missing order field)."""
    held = {fact.name for fact in facts.facts if fact.number is None or fact.number > 0}
    if held & set(_NEW_DATE_FACTS):
        for match in _UNKNOWN_NEW_DATE.finditer(text):
            out.add("contradicts_facts", match.group(0), "the new date is known: state it", *match.span())
    if held & set(_ACTION_FACTS):
        for match in _NO_ACTION.finditer(text):
            out.add("contradicts_facts", match.group(0), "the case needs the customer to act", *match.span())


def _check_echo(out: _Findings, text: str, message: str | None, config: FactCheckConfig) -> None:
    if not message:
        return
    if _carries_injection(message, config.injection_res):
        # Echoing any run of the message's words next to an injection is treated as obeying it.
        run = _shared_run(text, message, config.echo.injection_words)
        if run:
            out.add(
                "injection_echo",
                text[run[0] : run[1]],
                "repeats text of a customer message that carries a prompt injection",
                *run,
            )
    chars = _shared_chars(text, message, config.echo.message_chars)
    if chars:
        out.add("message_echo", text[chars[0] : chars[1]], "copies the customer's message verbatim", *chars)


_SPACES = re.compile(r"\s+")


def _collapsed(text: str) -> str:
    """``text`` lower-cased with every whitespace run as one space (same length per character otherwise)."""
    # ASCII text lower-cases character by character; ``str.lower`` of other text may not (a final sigma).
    lowered = (
        text.lower() if text.isascii() else "".join(ch if len(ch.lower()) != 1 else ch.lower() for ch in text)
    )
    return _SPACES.sub(" ", lowered)


def _original_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Map offsets in ``_collapsed(text)`` back to ``text``."""
    spans = [m.span() for m in re.finditer(r"\s+|\S", text)]
    return spans[start][0], spans[end - 1][1]


# Both drafts of a case are checked against the same customer message: what is read off the message alone is
# computed once.
@lru_cache(maxsize=64)
def _carries_injection(message: str, patterns: tuple[re.Pattern[str], ...]) -> bool:
    return any(p.search(message) for p in patterns)


@lru_cache(maxsize=64)
def _windows(source: str, size: int) -> frozenset[str]:
    src = _collapsed(source)
    return frozenset(src[i : i + size] for i in range(len(src) - size + 1))


def _shared_chars(draft: str, source: str, size: int) -> tuple[int, int] | None:
    """The first run of ``size`` characters (any script) shared with ``source``, as draft offsets."""
    windows = _windows(source, size)
    if not windows:
        return None
    text = _collapsed(draft)
    for i in range(len(text) - size + 1):
        if text[i : i + size] in windows:
            return _original_span(draft, i, i + size)
    return None
