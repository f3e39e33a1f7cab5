"""Shares and weights of the synthetic history, read from ``mix.yaml``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from eval.history.actions import ACTIONS

MIX_FILE = Path(__file__).with_name("mix.yaml")


@dataclass(frozen=True)
class Mix:
    """The weights in file order (the generator draws by position); see ``mix.yaml`` for what each is."""

    labels: dict[str, int]
    currencies: dict[str, int]
    tiers: dict[str, int]
    channels: dict[str, int]
    credit_limits: dict[str, float]
    outcomes: dict[str, float]
    outcomes_after: dict[str, dict[str, float]]
    median_hours: dict[str, float]
    hours_factor: dict[str, float]

    def outcome_weights(self, action: str) -> dict[str, float]:
        """The outcome weights after ``action``: the usual ones with that action's replacements."""
        return {**self.outcomes, **self.outcomes_after.get(action, {})}


def load_mix(path: Path, actions: Mapping[str, tuple[str, ...]]) -> Mix:
    """The mix in ``path``; ``ValueError`` unless its labels and actions are exactly those of ``actions``."""
    mix = Mix(**yaml.safe_load(path.read_text(encoding="utf-8")))
    every_action = {action for label_actions in actions.values() for action in label_actions}
    problems = [
        f"{what} {sorted(found)} != taxonomy {sorted(wanted)}"
        for what, found, wanted in (
            ("labels", set(mix.labels), set(actions)),
            ("median_hours", set(mix.median_hours), every_action),
        )
        if found != wanted
    ]
    problems += [
        f"outcomes_after.{action}: unknown action or outcome"
        for action, weights in mix.outcomes_after.items()
        if action not in every_action or not set(weights) <= set(mix.outcomes)
    ]
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))
    return mix


MIX = load_mix(MIX_FILE, ACTIONS)
