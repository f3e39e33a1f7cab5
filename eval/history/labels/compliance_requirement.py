"""Compliance requirement: a customer or regulatory rule is not met; the kind of rule decides the action."""

from __future__ import annotations

from eval.history.draw import kind
from eval.history.labels.base import Case, Decision, LabelRules
from eval.history.wording import WORDING

WEIGHTS = {
    "fix_on_site": {"apply_customer_labeling": 70, "route_to_compliance": 20, "hold_for_compliance_docs": 10},
    "documents": {"hold_for_compliance_docs": 70, "route_to_compliance": 25, "apply_customer_labeling": 5},
    "dispute": {"route_to_compliance": 70, "apply_customer_labeling": 20, "hold_for_compliance_docs": 10},
}
# The {docs} a resolution waits for, per requirement; filled from the case's slots.
DOCUMENTS = {
    "hazmat": "SDS and DG declaration",
    "certificate": "certificate for lot {lot}",
    "export": "export filing papers",
    "asn": "corrected ASN data for PO {po}",
    "labeling": "label spec sign-off",
}
FIXED_ON_SITE = ("labeling", "pallet")
NEEDS_DOCUMENTS = ("certificate", "hazmat", "export")


def decide(case: Case) -> Decision:
    """Labels and pallets are fixed on site, papers are waited for, fines and the rest go to compliance."""
    s = case.slots
    requirement = kind(case.text, WORDING.readings["compliance_requirement"], "asn")
    case.context.update(requirement=requirement, trading_partner=s["retailer"])
    s["docs"] = DOCUMENTS.get(requirement, "compliance documents").format(**s)
    if requirement in FIXED_ON_SITE:
        weights = WEIGHTS["fix_on_site"]
    elif requirement in NEEDS_DOCUMENTS:
        weights = WEIGHTS["documents"]
    else:
        weights = WEIGHTS["dispute"]
    return Decision(case.pick(weights))


# Most compliance cases come from retailers' routing guides and vendor-compliance programmes.
RULES = LabelRules(decide, WEIGHTS, retail_share=0.6)
