"""Pricing discrepancy: prices disagree; the size of the gap and a contract on file decide the action."""

from __future__ import annotations

from eval.history.labels.base import Case, Decision, LabelRules

WEIGHTS = {
    "small_gap": {"issue_price_correction": 60, "compare_to_contract": 25, "route_to_sales_ops": 15},
    "contract": {"compare_to_contract": 55, "issue_price_correction": 25, "route_to_sales_ops": 20},
    "no_contract": {"route_to_sales_ops": 55, "compare_to_contract": 25, "issue_price_correction": 20},
}
SMALL_GAP = 0.03
PRICE_SOURCES = ["contract", "list", "quote", "promo"]


def decide(case: Case) -> Decision:
    """A gap of 3% or less is simply corrected; otherwise the contract is checked, or sales ops decides."""
    rng, s = case.rng, case.slots
    case.line["contract_price"] = s["contract_price"]
    has_contract = rng.random() < 0.6
    case.context.update(
        variance_pct=float(s["variance_pct"]),
        margin_pct=round(rng.uniform(4, 32), 1),
        contract_id=s["contract_id"] if has_contract else None,
        price_source=rng.choice(PRICE_SOURCES),
    )
    if s["_variance"] <= SMALL_GAP:
        weights = WEIGHTS["small_gap"]
    elif has_contract:
        weights = WEIGHTS["contract"]
    else:
        weights = WEIGHTS["no_contract"]
    return Decision(case.pick(weights))


RULES = LabelRules(decide, WEIGHTS)
