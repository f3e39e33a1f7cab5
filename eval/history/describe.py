"""The texts of one case: its description (with source and exception code), customer message, resolution."""

from __future__ import annotations

import random
import re
from typing import Any

from eval.history.parties import Customer
from eval.history.pools import POOLS
from eval.history.text import add_noise, fill
from eval.history.wording import WORDING

GENERIC_CODE = "EXC-GEN"
# Channels where customers write or call themselves; elsewhere a message is rare.
WRITING_CHANNELS = ("email", "portal", "phone", "sales_rep")


def describe(rng: random.Random, label: str, slots: dict[str, Any]) -> tuple[str, str, str | None]:
    """A description of a ``label`` case, the system that wrote it, and its exception code if any.

    About 3% are terse notes any label can carry, 12% ambiguous between two labels, 12% in a neighbouring
    label's vocabulary; the rest use the label's own wording.
    """
    pairs = [pair for pair in WORDING.ambiguous if label in pair]
    roll = rng.random()
    terse = roll < 0.03
    if terse:
        pool = WORDING.terse
    elif pairs and roll < 0.15:
        pool = WORDING.ambiguous[rng.choice(pairs)]
    elif roll < 0.27 and label in WORDING.confusable:
        pool = WORDING.confusable[label]
    else:
        pool = WORDING.core[label]
    template = rng.choice(pool)
    text = fill(rng, template.text, slots)
    if not terse and rng.random() < 0.25:
        text = text.rstrip(".") + ". " + fill(rng, rng.choice(WORDING.tails), slots)
    text = add_noise(rng, text, template.source)
    code: str | None = None
    r = rng.random()
    if template.codes and r < 0.72:
        code = rng.choice(template.codes)
    elif r < 0.8:
        code = GENERIC_CODE
    return text, template.source, code


def customer_message(
    rng: random.Random, label: str, customer: Customer, slots: dict[str, Any], source: str
) -> str | None:
    """A message from a named person at ``customer`` about the case, or None (most cases have none)."""
    likely = customer.channel in WRITING_CHANNELS or source == "crm"
    if rng.random() > (0.6 if likely else 0.12):
        return None
    body = fill(rng, rng.choice(WORDING.messages[label]), slots)
    first, last = slots["first"], slots["last"]
    slug = re.sub(r"[^a-z]", "", customer.name.lower())[:14]
    email = f"{first.lower()}.{last.lower()}@{slug}.example"
    phone = f"({rng.randint(201, 989)}) 555-01{rng.randint(0, 99):02d}"
    signature = rng.choice(WORDING.signatures).format(
        first=first, last=last, company=customer.name, phone=phone, email=email
    )
    name = rng.choice(POOLS.first_names)
    greeting = rng.choice(WORDING.greetings).format(name=name)
    if body.startswith("Hi"):
        greeting = ""
    return f"{greeting}{body}{signature}"


def resolution_text(
    rng: random.Random, label: str, wording_key: str, outcome: str, slots: dict[str, Any]
) -> str:
    """What was done (the wording of ``wording_key`` for ``label``) and how it ended."""
    main = fill(rng, rng.choice(WORDING.resolutions[label][wording_key]), slots)
    tail = fill(rng, rng.choice(WORDING.outcomes[outcome]), slots)
    return f"{main} {tail}".strip()
