"""The governed policy (``guardrails/policy.yaml``), the taxonomy, and the pure gate that applies them."""

from triage.engines.policy.gate import (
    DraftCheck,
    GateInput,
    GateReason,
    GateResult,
    ItemDecision,
    approval_requirement,
    draft_approval_requirement,
    evaluate_gate,
    may_approve,
    recommended_actions,
)
from triage.engines.policy.loader import PolicyStore, cross_check, load_policy
from triage.engines.policy.models import Mode, Policy
from triage.engines.policy.taxonomy import Taxonomy, load_taxonomy

__all__ = [
    "DraftCheck",
    "GateInput",
    "GateReason",
    "GateResult",
    "ItemDecision",
    "Mode",
    "Policy",
    "PolicyStore",
    "Taxonomy",
    "approval_requirement",
    "cross_check",
    "draft_approval_requirement",
    "evaluate_gate",
    "load_policy",
    "load_taxonomy",
    "may_approve",
    "recommended_actions",
]
