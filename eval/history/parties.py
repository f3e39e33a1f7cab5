"""The fixed customers and SKUs of a run, drawn once before any case."""

from __future__ import annotations

import random
from dataclasses import dataclass

from eval.history.draw import pick
from eval.history.mix import MIX
from eval.history.pools import POOLS

# Every ninth customer is a retailer with a routing guide; the rest are distributors' trade customers.
RETAIL_EVERY = 9


@dataclass(frozen=True)
class Customer:
    """A customer account and the facts cases read from it."""

    customer_id: str
    name: str
    tier: str
    currency: str
    channel: str
    retail: bool


def customers(rng: random.Random, n: int = 420) -> list[Customer]:
    """``n`` customers with distinct ids, names, tiers, currencies and channels drawn from the mix."""
    result = []
    ids = rng.sample(range(10_000, 39_999), n)
    for i, num in enumerate(ids):
        retail = i % RETAIL_EVERY == 0
        if retail:
            name = rng.choice(POOLS.retailers)
        else:
            name = f"{rng.choice(POOLS.company_first)} {rng.choice(POOLS.company_second)}"
        currency = pick(rng, MIX.currencies)
        tier = pick(rng, MIX.tiers)
        channel = pick(rng, MIX.channels)
        result.append(Customer(f"C-{num}", name, tier, currency, channel, retail))
    return result


def skus(rng: random.Random, n: int = 260) -> list[tuple[str, int]]:
    """``n`` distinct SKUs in four numbering styles, each with the index of its catalogue item."""
    seen: set[str] = set()
    result: list[tuple[str, int]] = []
    while len(result) < n:
        style = rng.randrange(4)
        if style == 0:
            colour = rng.choice(POOLS.sku_colours)  # drawn before the digits: the draw order is the output
            sku = f"{rng.randint(10, 99)}-{rng.randint(1000, 9999)}-{colour}"
        elif style == 1:
            sku = f"HX-{rng.randint(10_000, 99_999)}"
        elif style == 2:
            sku = f"{rng.randint(1_000_000, 9_999_999)}-{rng.randint(1, 12):02d}"
        else:
            sku = f"PLT-{rng.randint(1000, 9999)}-{rng.choice('ABCDE')}"
        if sku not in seen:
            seen.add(sku)
            result.append((sku, rng.randrange(len(POOLS.items))))
    return result
