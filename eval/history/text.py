"""Turning a template into text, and the noise real notes carry: abbreviations, typos, prefixes, caps."""

from __future__ import annotations

import random
import re
from typing import Any

from eval.history.pools import POOLS
from eval.history.wording import WORDING

OPTION_RE = re.compile(r"«([^«»]*)»")
WORD_RE = re.compile(r"\b[a-z]{5,}\b")
# Legacy systems of record that sometimes write in capitals only.
CAPS_SOURCES = ("erp", "wms", "tms", "edi")


def fill(rng: random.Random, template: str, slots: dict[str, Any]) -> str:
    """``template`` with each «a|b» resolved to one option, each «?x» kept half of the time, {slot}s filled."""

    def choose(match: re.Match[str]) -> str:
        body: str = match.group(1)
        if body.startswith("?"):
            return body[1:] if rng.random() < 0.5 else ""
        return rng.choice(body.split("|"))

    return OPTION_RE.sub(choose, template).format(**slots)


def add_noise(rng: random.Random, text: str, source: str) -> str:
    """``text`` as users and systems of ``source`` would write it; most texts come back unchanged."""
    if rng.random() < 0.25:
        text = _abbreviate(rng, text)
    if rng.random() < 0.09:
        text = _misspell(rng, text)
    if rng.random() < 0.18:
        text = _prefix(rng) + text
    if rng.random() < 0.12:
        user = rng.choice(POOLS.users)
        text += rng.choice(WORDING.suffixes).format(user=user)
    # Only legacy systems shout; the second draw happens only when the first did not apply.
    if source in CAPS_SOURCES and rng.random() < 0.07:
        text = text.upper()
    elif rng.random() < 0.06:
        text = text.lower()
    return text


def _abbreviate(rng: random.Random, text: str) -> str:
    for word, short in POOLS.abbreviations.items():
        if rng.random() < 0.7:
            text = re.sub(rf"\b{word}\b", short, text)
    return text


def _misspell(rng: random.Random, text: str) -> str:
    for _ in range(rng.randint(1, 2)):
        words = WORD_RE.findall(text)
        if words:
            word = rng.choice(words)
            text = text.replace(word, _typo(rng, word), 1)
    return text


def _prefix(rng: random.Random) -> str:
    prefix = rng.choice(WORDING.prefixes)
    # Every value is drawn whichever prefix was chosen, so that the draws after it do not depend on it.
    return prefix.format(
        user=rng.choice(POOLS.users),
        ticket=f"INC{rng.randint(1_000_000, 9_999_999)}",
        job=f"BATCH{rng.randint(10, 99)}",
    )


def _typo(rng: random.Random, word: str) -> str:
    i = rng.randint(1, len(word) - 2)
    mistake = rng.randrange(3)
    if mistake == 0:  # swapped letters
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if mistake == 1:  # a letter left out
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]  # a letter doubled
