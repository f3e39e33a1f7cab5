"""The gate: thresholds, margin, modes, monetary limits, degraded inputs and findings."""

from __future__ import annotations

import copy
from dataclasses import replace
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from triage.core.errors import PolicyViolation
from triage.engines.policy.gate import (
    DraftCheck,
    GateInput,
    approval_requirement,
    evaluate_gate,
    may_approve,
    recommended_actions,
)
from triage.engines.policy.models import Policy

AUTO = "auto_approved"
POLICY_FILE = Path(__file__).resolve().parents[2] / "guardrails" / "policy.yaml"


@cache
def _shipped() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(POLICY_FILE.read_text(encoding="utf-8"))
    return data


def make_policy(**category_overrides: dict[str, Any]) -> Policy:
    """The shipped policy, with some categories' entries updated (shallow, per key)."""
    data = copy.deepcopy(_shipped())
    for label, fields in category_overrides.items():
        data["categories"].setdefault(label, {}).update(fields)
    return Policy.model_validate(data)


def healthy_drafts() -> list[DraftCheck]:
    return [DraftCheck("summary", "llm", []), DraftCheck("customer_update", "template", [])]


def make_input(**changes: Any) -> GateInput:
    """A healthy, confident incomplete_order_data case: the shipped policy auto-approves it."""
    base = GateInput(
        label="incomplete_order_data",
        confidence=0.97,
        second_confidence=0.01,
        severity="low",
        order_value=Decimal("1200.00"),
        currency="USD",
        customer_tier="standard",
        neighbours=5,
        predicted_action="request_missing_data",
        predicted_confidence=0.9,
        drafts=healthy_drafts(),
        degraded=[],
    )
    return replace(base, **changes)


def rules_of(result: Any) -> set[str]:
    return {reason.rule for reason in result.reasons}


def test_healthy_auto_category_is_auto_approved_with_the_threshold_as_reason() -> None:
    result = evaluate_gate(make_policy(), make_input())
    assert result.decision == "auto_approved"
    assert result.mode == "auto"
    assert [item.status for item in result.items] == ["auto_approved"] * 3
    assert [item.key for item in result.items] == [
        "recommendation:request_missing_data",
        "draft:summary",
        "draft:customer_update",
    ]
    assert result.threshold == 0.90
    assert result.review_due_minutes is None
    assert all(item.requires_role is None for item in result.items)
    assert result.reasons[0].rule == "thresholds.incomplete_order_data.auto"
    assert "0.9700 >= 0.9000" in result.reasons[0].detail


def test_confidence_between_review_and_auto_needs_review_naming_the_threshold() -> None:
    result = evaluate_gate(make_policy(), make_input(confidence=0.85, second_confidence=0.05))
    assert result.decision == "needs_review"
    assert not result.abstained
    assert {item.status for item in result.items} == {"pending_review"}
    reason = next(r for r in result.reasons if r.rule == "thresholds.incomplete_order_data.auto")
    assert reason.item == "case"
    assert reason.detail == "confidence 0.8500 < 0.9000"
    assert result.review_due_minutes == 1440
    assert result.escalation_role == "supervisor"


def test_category_threshold_overrides_the_default() -> None:
    policy = make_policy(incomplete_order_data={"thresholds": {"auto": 0.98}})
    result = evaluate_gate(policy, make_input(confidence=0.97))
    assert result.decision == "needs_review"
    assert result.threshold == 0.98
    assert any(r.detail == "confidence 0.9700 < 0.9800" for r in result.reasons)


def test_below_review_abstains_to_the_manual_desk_and_reports_the_review_threshold() -> None:
    result = evaluate_gate(make_policy(), make_input(confidence=0.42, second_confidence=0.20))
    assert result.abstained
    assert result.abstain_reason == "confidence 0.4200 < review threshold 0.5000"
    assert result.decision == "needs_review"
    assert result.threshold == 0.50
    assert {item.status for item in result.items} == {"pending_review"}
    assert "thresholds.incomplete_order_data.review" in rules_of(result)


def test_ambiguous_top_two_abstains_by_default() -> None:
    policy = make_policy(incomplete_order_data={"thresholds": {"auto": 0.50, "review": 0.40}})
    result = evaluate_gate(policy, make_input(confidence=0.52, second_confidence=0.45))
    assert result.abstained
    assert "margin 0.0700" in (result.abstain_reason or "")
    assert result.decision == "needs_review"
    assert "ambiguity_margin.incomplete_order_data" in rules_of(result)


def test_ambiguity_can_be_set_to_review_instead_of_abstain() -> None:
    policy = make_policy(
        incomplete_order_data={"thresholds": {"auto": 0.50, "review": 0.40}, "on_ambiguity": "review"}
    )
    result = evaluate_gate(policy, make_input(confidence=0.52, second_confidence=0.45))
    assert not result.abstained
    assert result.decision == "needs_review"
    assert "ambiguity_margin.incomplete_order_data" in rules_of(result)
    # the same confidence with a clear margin would be auto-approved
    assert (
        evaluate_gate(policy, make_input(confidence=0.52, second_confidence=0.10)).decision == "auto_approved"
    )


def test_recommend_mode_never_auto_approves() -> None:
    policy = make_policy(incomplete_order_data={"mode": "recommend"})
    result = evaluate_gate(policy, make_input())
    assert result.decision == "needs_review"
    assert result.mode == "recommend"
    assert {item.status for item in result.items} == {"pending_review"}
    assert "mode.incomplete_order_data" in rules_of(result)


def test_shadow_mode_records_without_acting_or_queueing() -> None:
    policy = make_policy(incomplete_order_data={"mode": "shadow"})
    result = evaluate_gate(policy, make_input())
    assert result.mode == "shadow"
    assert result.decision == "blocked"
    assert {item.status for item in result.items} == {"shadow"}
    assert result.review_due_minutes is None
    assert all("in auto mode: auto_approved" in item.reasons[0].detail for item in result.items)
    unhealthy = evaluate_gate(policy, make_input(degraded=["retrieval"]))
    assert all("in auto mode: pending_review" in item.reasons[0].detail for item in unhealthy.items)


def test_off_mode_blocks_everything() -> None:
    policy = make_policy(incomplete_order_data={"mode": "off"})
    result = evaluate_gate(policy, make_input())
    assert result.decision == "blocked"
    assert {item.status for item in result.items} == {"blocked"}
    assert [r.rule for r in result.reasons] == ["mode.incomplete_order_data"]


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"degraded": ["llm"]}, "degraded.llm"),
        ({"neighbours": 0}, "retrieval.require_neighbours_for_auto"),
        ({"customer_tier": "strategic"}, "no_auto_customer_tiers.incomplete_order_data"),
        ({"predicted_action": "correct_master_data"}, "retrieval.predicted_action"),
    ],
)
def test_degraded_or_unsupported_inputs_are_never_auto_approved(changes: dict[str, Any], rule: str) -> None:
    result = evaluate_gate(make_policy(), make_input(**changes))
    assert result.decision == "needs_review"
    assert AUTO not in {
        item.status for item in result.items if item.key == "recommendation:request_missing_data"
    }
    assert rule in rules_of(result)


def test_no_neighbours_allowed_when_policy_does_not_require_them() -> None:
    data = copy.deepcopy(_shipped())
    data["retrieval"]["require_neighbours_for_auto"] = False
    assert evaluate_gate(Policy.model_validate(data), make_input(neighbours=0)).decision == AUTO


def test_llm_customer_update_is_never_auto_approved_even_where_auto_is_allowed() -> None:
    drafts = [DraftCheck("summary", "llm", []), DraftCheck("customer_update", "llm", [])]
    result = evaluate_gate(make_policy(), make_input(drafts=drafts))
    statuses = {item.key: item.status for item in result.items}
    assert statuses["draft:customer_update"] == "pending_review"
    assert statuses["draft:summary"] == AUTO
    assert result.decision == "needs_review"
    assert "drafts.customer_update.auto_generators" in rules_of(result)


def test_fallback_draft_is_never_auto_approved() -> None:
    drafts = [DraftCheck("summary", "llm", []), DraftCheck("customer_update", "template-fallback", [])]
    result = evaluate_gate(make_policy(), make_input(drafts=drafts))
    statuses = {item.key: item.status for item in result.items}
    assert statuses["draft:customer_update"] == "pending_review"
    assert statuses["recommendation:request_missing_data"] == AUTO
    assert result.decision == "needs_review"
    assert "drafts.customer_update.generator" in rules_of(result)


def test_findings_stop_auto_approval_and_are_listed_as_reasons() -> None:
    finding = "order_value: 12,000.00 not in the event"
    drafts = [DraftCheck("summary", "llm", []), DraftCheck("customer_update", "template", [finding])]
    result = evaluate_gate(make_policy(), make_input(drafts=drafts))
    update = next(item for item in result.items if item.key == "draft:customer_update")
    assert update.status == "pending_review"
    assert update.requires_role == "agent"
    assert [(r.rule, r.detail) for r in update.reasons] == [("factcheck.order_value", finding)]
    assert result.decision == "needs_review"


def test_customer_updates_need_approval_unless_the_category_allows_auto() -> None:
    policy = make_policy(incomplete_order_data={"drafts": None})
    result = evaluate_gate(policy, make_input())
    update = next(item for item in result.items if item.key == "draft:customer_update")
    assert update.status == "pending_review"
    assert update.reasons[0].rule == "drafts.customer_update.auto_allowed"


def test_action_not_auto_allowed_waits_for_its_role() -> None:
    result = evaluate_gate(
        make_policy(), make_input(label="credit_hold", predicted_action="request_credit_release")
    )
    item = next(i for i in result.items if i.action == "request_credit_release")
    assert item.status == "pending_review"
    assert (item.requires_role, item.requires_team, item.four_eyes, item.risk) == (
        "agent",
        "finance",
        True,
        "high",
    )
    assert "actions.credit_hold.request_credit_release.auto_allowed" in {r.rule for r in item.reasons}


def test_monetary_limit_raises_the_approver_and_blocks_auto() -> None:
    policy = make_policy(
        incomplete_order_data={
            "actions": {
                "request_missing_data": {
                    "risk": "low",
                    "approver_role": "agent",
                    "auto_allowed": True,
                    "monetary_limits": [{"above": 10000, "role": "supervisor", "team": "finance"}],
                },
                "correct_master_data": {"risk": "medium", "approver_role": "agent"},
            }
        }
    )
    assert evaluate_gate(policy, make_input(order_value=Decimal("10000"))).decision == AUTO
    result = evaluate_gate(policy, make_input(order_value=Decimal("10000.01")))
    item = result.items[0]
    assert item.status == "pending_review"
    assert (item.requires_role, item.requires_team) == ("supervisor", "finance")
    reason = next(r for r in item.reasons if r.rule.endswith("monetary_limits"))
    assert "10000.01 USD > 10000" in reason.detail


def test_approval_requirement_by_order_value() -> None:
    policy = make_policy()
    label, action = "credit_hold", "request_credit_release"
    assert approval_requirement(policy, label, action, Decimal("50000")) == ("agent", "finance")
    assert approval_requirement(policy, label, action, Decimal("50000.01")) == ("supervisor", "finance")
    assert approval_requirement(policy, "inventory_shortage", "propose_transfer", Decimal(60000)) == (
        "supervisor",
        None,
    )
    # limits are in USD; another currency cannot be compared, so the strictest limit applies
    assert approval_requirement(policy, label, action, Decimal("10"), "EUR") == ("supervisor", "finance")
    with pytest.raises(PolicyViolation):
        approval_requirement(policy, label, "no_such_action", Decimal(1))


def test_may_approve_checks_role_and_team() -> None:
    assert may_approve("supervisor", ["finance"], "supervisor", "finance")
    assert may_approve("supervisor", [], "agent", None)
    assert not may_approve("agent", ["finance"], "supervisor", "finance")
    assert not may_approve("supervisor", ["logistics"], "supervisor", "finance")
    assert not may_approve("admin", [], "agent", None)


def test_recommended_actions_put_the_predicted_action_first() -> None:
    policy = make_policy()
    assert recommended_actions(policy, "credit_hold", "request_credit_release") == [
        "request_credit_release",
        "route_to_finance",
    ]
    assert recommended_actions(policy, "credit_hold", "route_to_finance") == ["route_to_finance"]
    assert recommended_actions(policy, "credit_hold", "rebook_carrier") == ["route_to_finance"]
    assert recommended_actions(policy, "credit_hold", None) == ["route_to_finance"]
    assert recommended_actions(policy, "unknown_label", None) == []


def test_label_without_a_catalogue_needs_review() -> None:
    result = evaluate_gate(make_policy(), make_input(label="unknown_label", predicted_action=None))
    assert result.decision == "needs_review"
    assert "actions.unknown_label" in rules_of(result)


def test_sla_follows_severity_and_unknown_severity_gets_the_shortest() -> None:
    base = make_input(label="shipment_delay", predicted_action=None)
    assert evaluate_gate(make_policy(), replace(base, severity="critical")).review_due_minutes == 30
    assert evaluate_gate(make_policy(), replace(base, severity="medium")).review_due_minutes == 480
    odd = evaluate_gate(make_policy(), replace(base, severity="urgent"))
    assert odd.review_due_minutes == 30
    assert "review_slas" in rules_of(odd)


def test_gate_is_deterministic() -> None:
    inp = make_input(confidence=0.8, degraded=["llm"])
    assert evaluate_gate(make_policy(), inp) == evaluate_gate(make_policy(), inp)


def test_unknown_draft_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown draft kind"):
        evaluate_gate(make_policy(), make_input(drafts=[DraftCheck("memo", "llm", [])]))
