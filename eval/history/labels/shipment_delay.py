"""Shipment delay: the shipment will be late; how late and for whom decide the action."""

from __future__ import annotations

from eval.history.draw import kind
from eval.history.labels.base import Case, Decision, LabelRules
from eval.history.wording import WORDING

WEIGHTS = {
    "save_the_date": {"expedite_shipment": 55, "notify_customer": 25, "recalculate_commitment": 20},
    "long_delay": {"recalculate_commitment": 50, "notify_customer": 38, "expedite_shipment": 12},
    "short_delay": {"notify_customer": 45, "recalculate_commitment": 40, "expedite_shipment": 15},
}
LONG_DELAY_DAYS = 4


def decide(case: Case) -> Decision:
    """A short slip for a strategic account is expedited; long delays get a new commitment."""
    rng, days_late = case.rng, case.slots["days_late"]
    case.context.update(
        days_late=days_late,
        in_transit=rng.random() < 0.6,
        delay_cause=kind(case.text, WORDING.readings["shipment_delay"], "linehaul"),
    )
    if case.customer.tier == "strategic" and days_late <= 2:
        weights = WEIGHTS["save_the_date"]
    elif days_late >= LONG_DELAY_DAYS:
        weights = WEIGHTS["long_delay"]
    else:
        weights = WEIGHTS["short_delay"]
    return Decision(case.pick(weights))


RULES = LabelRules(decide, WEIGHTS, lead_days=(2, 12), ships_with_carrier=True)
