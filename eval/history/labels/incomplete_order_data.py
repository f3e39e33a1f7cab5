"""Incomplete order data: a field is missing; master data is fixed, anything else is asked for."""

from __future__ import annotations

from eval.history.draw import kind
from eval.history.labels.base import Case, Decision, LabelRules
from eval.history.wording import WORDING

WEIGHTS = {
    "master_data": {"correct_master_data": 70, "request_missing_data": 30},
    "order_data": {"request_missing_data": 80, "correct_master_data": 20},
}
MASTER_DATA_FIELDS = ("ship_to", "uom", "tax_id", "postal_code")


def decide(case: Case) -> Decision:
    """A field kept in master data is usually corrected there; an order's own field is requested."""
    missing = kind(case.text, WORDING.readings["incomplete_order_data"], "other_field")
    case.context["missing_field"] = missing
    case.slots["missing_what"] = (
        missing.replace("_", " ").replace("uom", "unit of measure").replace("id", "ID")
    )
    if missing == "po_number":  # the order must not carry what the case says is missing
        case.order.pop("po_number", None)
    master = missing in MASTER_DATA_FIELDS
    return Decision(case.pick(WEIGHTS["master_data" if master else "order_data"]))


RULES = LabelRules(decide, WEIGHTS)
