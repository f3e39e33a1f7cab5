"""Small seeded draws and formats shared by the generator: weighted picks, amounts, ids, tracking numbers."""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal

from eval.history.pools import POOLS

# UPS tracking numbers avoid letters that read like digits.
UPS_ALPHABET = "0123456789ABCDEFGHJKLMNPRSTVWXY"


def pick(rng: random.Random, weights: Mapping[str, float]) -> str:
    """One key of ``weights``, drawn in proportion to its weight (one ``rng.choices`` call)."""
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def kind(text: str, patterns: Mapping[str, str], default: str) -> str:
    """The first kind in ``patterns`` (kind to regex) whose regex ``text`` matches, else ``default``."""
    return next((name for name, pattern in patterns.items() if re.search(pattern, text)), default)


def money(value: float | Decimal) -> str:
    """``value`` with two decimals, half rounded up."""
    return str(Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def big_amount(rng: random.Random, value: float) -> str:
    """A large amount as a person or system writes it: ``1.2M``, ``250K``, ``1,234.56`` or ``1234.56``."""
    style = rng.random()
    if style < 0.35 and value >= 1_000_000:
        return f"{value / 1e6:.1f}M"
    if style < 0.5 and value >= 10_000:
        return f"{value / 1e3:.0f}K"
    if style < 0.8:
        return f"{value:,.2f}"
    return f"{value:.2f}"


def tracking_number(rng: random.Random, style: str) -> str:
    """A tracking number in a carrier's ``style``: ``ups``, ``fedex``, or anything else for a PRO number."""
    if style == "ups":
        body = "".join(rng.choice(UPS_ALPHABET) for _ in range(6))
        return f"1Z{body}{rng.randint(10, 99)}{rng.randint(10_000_000, 99_999_999)}"
    if style == "fedex":
        return str(rng.randint(10**11, 10**12 - 1))
    return str(rng.randint(10**8, 10**10 - 1))


def po_number(rng: random.Random) -> str:
    """A customer PO number: numeric, prefixed (``VM-482113``) or ``P`` and seven digits."""
    style = rng.random()
    if style < 0.6:
        return str(rng.randint(100_000, 99_999_999))
    if style < 0.85:
        return f"{rng.choice(POOLS.po_prefixes)}-{rng.randint(10_000, 999_999)}"
    return f"P{rng.randint(1_000_000, 9_999_999)}"


def order_id(rng: random.Random) -> str:
    """A sales order id: ``SO-7xxxxxx`` or a ten-digit ERP document number."""
    if rng.random() < 0.7:
        return f"SO-{rng.randint(7_000_000, 7_999_999)}"
    return str(rng.randint(4_500_000_000, 4_509_999_999))
