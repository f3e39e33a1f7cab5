"""Carrier failure: the carrier failed; lost or damaged freight means a claim, anything else a new carrier."""

from __future__ import annotations

from eval.history.draw import kind
from eval.history.labels.base import Case, Decision, LabelRules
from eval.history.wording import WORDING

WEIGHTS = {
    "freight_lost_or_damaged": {"file_carrier_claim": 70, "notify_customer": 15, "rebook_carrier": 15},
    "freight_not_moving": {"rebook_carrier": 75, "notify_customer": 20, "file_carrier_claim": 5},
}
# What a description that names no failure is taken to be; drawn even when the text names one.
UNNAMED_FAILURES = ["lost", "damaged", "missed_pickup"]
CLAIMABLE = ("lost", "damaged")


def decide(case: Case) -> Decision:
    """Lost or damaged freight has a claim value and is usually claimed; otherwise the load is rebooked."""
    failure = kind(case.text, WORDING.readings["carrier_failure"], case.rng.choice(UNNAMED_FAILURES))
    case.context.update(failure_type=failure, carrier_scac=case.slots["scac"])
    if failure in CLAIMABLE:
        case.context["claim_value"] = float(case.slots["claim_amt"])
        weights = WEIGHTS["freight_lost_or_damaged"]
    else:
        weights = WEIGHTS["freight_not_moving"]
    return Decision(case.pick(weights))


RULES = LabelRules(decide, WEIGHTS, lead_days=(2, 12), ships_with_carrier=True)
