"""Backorder conflict: orders compete for inbound stock; tier and a substitute decide the action."""

from __future__ import annotations

from eval.history.labels.base import PRIORITY_TIERS, Case, Decision, LabelRules

WEIGHTS = {
    "priority_customer": {"reprioritize_allocation": 60, "offer_substitute": 15, "update_promise_date": 25},
    "substitute": {"offer_substitute": 55, "update_promise_date": 30, "reprioritize_allocation": 15},
    "wait": {"update_promise_date": 60, "reprioritize_allocation": 25, "offer_substitute": 15},
}


def decide(case: Case) -> Decision:
    """Strategic and key accounts jump the queue; others take a substitute if there is one, or wait."""
    rng, s = case.rng, case.slots
    case.line["quantity_allocated"] = 0
    case.line["quantity_available"] = 0
    has_sub = rng.random() < 0.35
    case.context.update(
        inbound_po=s["inbound_po"],
        inbound_qty=s["inbound_qty"],
        backorder_demand=s["demand"],
        competing_orders=s["n_orders"] - 1,
        substitute_sku=s["sub_sku"] if has_sub else None,
    )
    if case.customer.tier in PRIORITY_TIERS:
        weights = WEIGHTS["priority_customer"]
    elif has_sub:
        weights = WEIGHTS["substitute"]
    else:
        weights = WEIGHTS["wait"]
    action = case.pick(weights)
    if action == "offer_substitute":  # a substitute was offered, so there was one
        case.context["substitute_sku"] = s["sub_sku"]
    return Decision(action)


RULES = LabelRules(decide, WEIGHTS)
