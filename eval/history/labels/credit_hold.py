"""Credit hold: the order is blocked by credit; days past due, risk class and tier decide the action."""

from __future__ import annotations

from eval.history.labels.base import PRIORITY_TIERS, Case, Decision, LabelRules
from eval.history.wording import WORDING

WEIGHTS = {
    "high_risk": {"escalate_credit_review": 60, "route_to_finance": 30, "request_credit_release": 10},
    "priority_customer": {"request_credit_release": 60, "route_to_finance": 28, "escalate_credit_review": 12},
    "routine": {"route_to_finance": 60, "request_credit_release": 25, "escalate_credit_review": 15},
}
HIGH_RISK_CLASSES = ("D", "E", "005")
HIGH_RISK_DAYS_PAST_DUE = 60


def decide(case: Case) -> Decision:
    """Long past due or high risk goes to review; strategic and key accounts usually get a release."""
    rng, s = case.rng, case.slots
    case.context.update(
        credit_limit=s["_limit"],
        exposure=s["_exposure"],
        days_past_due=s["dpd"],
        risk_class=s["risk_class"],
    )
    if rng.random() < 0.3:
        case.context["internal_note"] = rng.choice(WORDING.internal_notes["credit_hold"])
    if s["dpd"] > HIGH_RISK_DAYS_PAST_DUE or s["risk_class"] in HIGH_RISK_CLASSES:
        weights = WEIGHTS["high_risk"]
    elif case.customer.tier in PRIORITY_TIERS:
        weights = WEIGHTS["priority_customer"]
    else:
        weights = WEIGHTS["routine"]
    return Decision(case.pick(weights))


RULES = LabelRules(decide, WEIGHTS)
