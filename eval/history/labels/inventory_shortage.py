"""Inventory shortage: the line is short; stock elsewhere, partial shipments, or waiting decide the action."""

from __future__ import annotations

from eval.history.labels.base import Case, Decision, LabelRules

WEIGHTS = {
    "stock_elsewhere": {
        "propose_transfer": 50,
        "check_alternate_warehouse": 30,
        "split_shipment": 10,
        "update_promise_date": 10,
    },
    "partial_allowed": {"split_shipment": 60, "update_promise_date": 25, "check_alternate_warehouse": 15},
    "wait": {"update_promise_date": 70, "check_alternate_warehouse": 20, "split_shipment": 10},
}


def decide(case: Case) -> Decision:
    """Stock elsewhere usually means a transfer; nothing on hand rules out a split shipment."""
    rng, s = case.rng, case.slots
    case.line["quantity_allocated"] = s["avail"]
    case.line["quantity_available"] = s["avail"]
    alt_ok = rng.random() < 0.55
    s["alt_qty"] = (
        rng.randint(s["short"], s["short"] * 3) if alt_ok else rng.randint(0, max(0, s["short"] // 3))
    )
    partial_ok = rng.random() < 0.6
    case.context.update(
        atp_qty=s["avail"],
        alt_site=s["alt_site"],
        alt_site_qty=s["alt_qty"],
        partial_shipments_allowed=partial_ok,
    )
    if alt_ok:
        weights = WEIGHTS["stock_elsewhere"]
    elif s["avail"] > 0 and partial_ok:
        weights = WEIGHTS["partial_allowed"]
    else:
        weights = WEIGHTS["wait"]
    if s["avail"] == 0:
        weights = {action: w for action, w in weights.items() if action != "split_shipment"}
    action = case.pick(weights)
    if action == "check_alternate_warehouse" and not alt_ok:
        return Decision(action, "check_alternate_warehouse:none")  # looked, found too little
    return Decision(action)


RULES = LabelRules(decide, WEIGHTS)
