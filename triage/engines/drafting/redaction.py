"""Redaction of personal data before any text leaves the process.

Emails, phone numbers, card numbers (Luhn-valid), IBANs, labelled bank account numbers and person names where
they can be detected (greetings, signatures, "my name is") become numbered placeholders such as ``[NAME_1]``.
Placeholders are never turned back into the original text: a customer draft states personal data only when
the facts hold it, and the fact-check flags any placeholder left in a draft.
Identifiers of the order itself (order, PO, tracking number ...) are kept even when they look like a number.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from triage.engines.drafting.claims import PII_KINDS, ClaimExtractor, id_key

_NAME = r"[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)?"
_FULL_NAME = rf"{_NAME}(?:\s+(?:[A-Z]\.\s*)?{_NAME}){{0,2}}"
_NOT_NAMES = frozenset(
    {
        "team",
        "there",
        "all",
        "everyone",
        "customer",
        "sir",
        "madam",
        "support",
        "sales",
        "hello",
        "hi",
        "thanks",
        "regards",
        "purchasing",
        "receiving",
        "accounts",
        "logistics",
        "dispatch",
        "warehouse",
        "operations",
        "we",
        "the",
        "our",
        "your",
        "this",
        "that",
        "please",
        "order",
        "to",
        "whom",
        "folks",
        "guys",
        "again",
        "so",
        "much",
        "you",
        "for",
        "in",
        "advance",
        "a",
        "lot",
        "and",
        "best",
        "kind",
        "cheers",
        "sincerely",
        "care",
        "buyer",
    }
)
_NAME_CONTEXTS = [
    # greeting: "Hi Tom," / "Dear Ms. Okafor"
    re.compile(
        rf"(?m)^\s*(?i:hi|hello|hey|dear|good morning|good afternoon)\s+(?:(?i:mr|mrs|ms|dr)\.?\s+)?"
        rf"(?P<name>{_FULL_NAME})"
    ),
    # sign-off on the same or the next line: "Thanks, Maria Okafor" / "Regards,\nMaria Okafor"
    re.compile(
        rf"(?i:thanks|thank you|regards|best|cheers|sincerely|rgds)[,.!]?[ \t]*\n?[ \t]*"
        rf"(?P<name>{_FULL_NAME})"
    ),
    # signature block: "-- Maria | purchasing"
    re.compile(rf"(?m)^\s*(?:--|—)\s*(?P<name>{_FULL_NAME})"),
    # two capitalised words alone on a line after a blank line: the usual signature block
    re.compile(rf"\n[ \t]*\n[ \t]*(?P<name>{_NAME}[ \t]+{_NAME})[ \t]*(?:\n|$)"),
    re.compile(rf"(?i:\bmy name is|\bthis is|\bask for|\bspeak to|\bspeak with)\s+(?P<name>{_FULL_NAME})"),
]
_ACCOUNT = re.compile(
    r"\b(?:account|acct|a/c|routing|sort code|bank)\s*(?:no\.?|number|#|nr\.?)?\s*[:#]?\s*"
    r"(?P<num>\d[\d -]{5,}\d)",
    re.IGNORECASE,
)
_PLACEHOLDER_KIND = {"email": "EMAIL", "phone": "PHONE", "card": "CARD", "iban": "IBAN"}


@dataclass
class Redaction:
    """The redacted text and what was replaced (kept in process, never sent and never restored)."""

    text: str
    replaced: dict[str, str] = field(default_factory=dict)
    """placeholder → original text."""


class Redactor:
    """Replaces personal data by stable placeholders; one instance numbers placeholders across calls."""

    def __init__(self, extractor: ClaimExtractor, keep: Iterable[str] = ()) -> None:
        self._extractor = extractor
        self._keep = {id_key(k) for k in keep if k}
        self._seen: dict[tuple[str, str], str] = {}
        self._counts: dict[str, int] = {}

    def _placeholder(self, kind: str, original: str) -> str:
        norm = id_key(original) if kind != "NAME" else original.lower()
        key = (kind, norm)
        if key not in self._seen:
            self._counts[kind] = self._counts.get(kind, 0) + 1
            self._seen[key] = f"[{kind}_{self._counts[kind]}]"
        return self._seen[key]

    def redact(self, text: str) -> Redaction:
        result, replaced, cursor = [], {}, 0
        for start, end, kind in sorted(self._spans(text)):
            if start < cursor:
                continue
            original = text[start:end]
            placeholder = self._placeholder(kind, original)
            replaced[placeholder] = original
            result.append(text[cursor:start])
            result.append(placeholder)
            cursor = end
        result.append(text[cursor:])
        return Redaction(self._names_everywhere("".join(result)), replaced)

    def _spans(self, text: str) -> list[tuple[int, int, str]]:
        """``(start, end, placeholder kind)`` of every piece of personal data found in ``text``."""
        spans = [
            (claim.start, claim.end, _PLACEHOLDER_KIND[claim.kind])
            for claim in self._extractor.extract(text)
            if claim.kind in PII_KINDS
            and (claim.key or "") not in self._keep
            and id_key(claim.span) not in self._keep
        ]
        spans += [
            (match.start("num"), match.end("num"), "ACCOUNT")
            for match in _ACCOUNT.finditer(text)
            if id_key(match.group("num")) not in self._keep
        ]
        return spans + [span for pattern in _NAME_CONTEXTS for span in _name_spans(pattern, text)]

    def _names_everywhere(self, redacted: str) -> str:
        """A name seen once (e.g. in a signature) is redacted wherever else it appears."""
        for (kind, norm), placeholder in self._seen.items():
            if kind != "NAME":
                continue
            parts = [norm, *(part for part in norm.split() if len(part) > 2 and part not in _NOT_NAMES)]
            for part in parts:
                redacted = re.sub(rf"\b{re.escape(part)}\b", placeholder, redacted, flags=re.IGNORECASE)
        return redacted

    def redact_data(self, value: Any) -> Any:
        """Redact every string inside a JSON-like value."""
        if isinstance(value, str):
            return self.redact(value).text
        if isinstance(value, dict):
            return {k: self.redact_data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.redact_data(v) for v in value]
        return value


def _name_spans(pattern: re.Pattern[str], text: str) -> list[tuple[int, int, str]]:
    """Names introduced by ``pattern``'s context (a greeting, a signature ...), trailing non-names trimmed."""
    spans = []
    for match in pattern.finditer(text):
        name = match.group("name")
        words = name.split()
        while words and words[-1].lower() in _NOT_NAMES:
            words.pop()
        if not words or words[0].lower() in _NOT_NAMES:
            continue
        kept = re.match(rf"\S+(?:\s+\S+){{{len(words) - 1}}}", name)
        if kept:
            start = match.start("name")
            spans.append((start, start + kept.end(), "NAME"))
    return spans
