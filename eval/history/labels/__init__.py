"""Each label's facts and action weights, one module a label, checked against the taxonomy on import."""

from __future__ import annotations

from collections.abc import Mapping

from eval.history.actions import ACTIONS
from eval.history.labels import (
    backorder_conflict,
    carrier_failure,
    compliance_requirement,
    credit_hold,
    incomplete_order_data,
    inventory_shortage,
    other,
    pricing_discrepancy,
    shipment_delay,
)
from eval.history.labels.base import Case, Decision, LabelRules

__all__ = ["RULES", "Case", "Decision", "LabelRules", "problems"]

RULES: dict[str, LabelRules] = {
    "inventory_shortage": inventory_shortage.RULES,
    "backorder_conflict": backorder_conflict.RULES,
    "credit_hold": credit_hold.RULES,
    "pricing_discrepancy": pricing_discrepancy.RULES,
    "shipment_delay": shipment_delay.RULES,
    "carrier_failure": carrier_failure.RULES,
    "incomplete_order_data": incomplete_order_data.RULES,
    "compliance_requirement": compliance_requirement.RULES,
    "other": other.RULES,
}


def problems(rules: Mapping[str, LabelRules], actions: Mapping[str, tuple[str, ...]]) -> list[str]:
    """Where ``rules`` and the taxonomy's ``actions`` disagree: labels, and actions weighted or never drawn.

    A label without weights takes its single taxonomy action.
    """
    found = (
        [f"labels {sorted(set(rules) ^ set(actions))} are not in both"] if set(rules) != set(actions) else []
    )
    for label in (label for label in rules if label in actions):
        weighted = {action for table in rules[label].weights.values() for action in table}
        allowed = set(actions[label])
        if weighted - allowed:
            found.append(f"{label}: {sorted(weighted - allowed)} are not its taxonomy actions")
        if weighted and allowed - weighted:
            found.append(f"{label}: taxonomy actions {sorted(allowed - weighted)} are never drawn")
        if not weighted and len(allowed) != 1:
            found.append(f"{label}: no weights for its {len(allowed)} taxonomy actions")
    return found


if _found := problems(RULES, ACTIONS):
    raise ValueError("eval.history.labels disagree with the taxonomy: " + "; ".join(_found))
