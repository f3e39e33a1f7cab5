"""What a label's rules read and return: the case being drawn, the decision, and the label's own settings."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from eval.history.draw import pick
from eval.history.parties import Customer

Weights = Mapping[str, int]
# Tiers whose orders jump queues and get credit released: the accounts sales fights for.
PRIORITY_TIERS = ("strategic", "key")


@dataclass(frozen=True)
class Case:
    """One case while its label's rules decide: the facts they read and the dicts they fill in place."""

    rng: random.Random
    actions: tuple[str, ...]  # the taxonomy's actions for the label
    customer: Customer
    order: dict[str, Any]
    line: dict[str, Any]  # the order's first line
    slots: dict[str, Any]
    text: str  # the description, lower-cased
    context: dict[str, Any]  # the event's context, in the order its keys are written

    def pick(self, weights: Weights) -> str:
        """An action drawn by ``weights``; ``ValueError`` if one is not an action of the label's taxonomy."""
        unknown = set(weights) - set(self.actions)
        if unknown:
            raise ValueError(f"actions {sorted(unknown)} are not in the taxonomy's {list(self.actions)}")
        return pick(self.rng, weights)


class Decision(NamedTuple):
    """The action taken, and the key of its resolution wording when that differs from the action."""

    action: str
    wording: str = ""

    @property
    def wording_key(self) -> str:
        return self.wording or self.action


@dataclass(frozen=True)
class LabelRules:
    """How a label shapes its cases, and how its action is decided from their facts."""

    decide: Callable[[Case], Decision]
    # Action weights by situation; the registry checks them against the taxonomy.
    weights: Mapping[str, Weights] = field(default_factory=dict)
    lead_days: tuple[int, int] = (0, 4)  # days from order to exception
    ships_with_carrier: bool = False  # whether the order always names its carrier and tracking number
    retail_share: float = 0.0  # share of cases that go to a retail customer rather than anyone
