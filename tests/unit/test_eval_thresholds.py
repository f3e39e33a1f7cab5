"""Threshold proposals and their bounds, cost-optimal thresholds and the baseline rule, on hand-made numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from triage.engines.policy.loader import load_policy
from triage.engines.policy.models import Policy
from triage.evaluation.compare import Rule, Tolerances, compare, failed
from triage.evaluation.metrics import Scored
from triage.evaluation.thresholds import (
    Cost,
    Costs,
    cost_suite,
    lower_bound,
    min_items,
    operating_point,
    propose_per_class,
    propose_pooled,
    proposed_policy,
    threshold_suite,
)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(Path("guardrails/policy.yaml"))


def items(label: str, confidences: list[float], wrong: int = 0) -> list[Scored]:
    """Items predicted ``label``; the ``wrong`` least confident of them are mistakes."""
    ordered = sorted(confidences, reverse=True)
    cut = len(ordered) - wrong
    return [Scored("", label if i < cut else "other", label, c, 0.0) for i, c in enumerate(ordered)]


def test_bounds_match_the_closed_forms() -> None:
    # Clopper-Pearson with every item right: alpha ** (1 / n)
    assert lower_bound(100, 100, 0.95, "clopper-pearson") == pytest.approx(0.05 ** (1 / 100))
    assert lower_bound(0, 10, 0.95, "clopper-pearson") == 0.0
    assert 0.9 < lower_bound(95, 100, 0.95, "wilson") < 0.95
    assert min_items(0.99, 0.95) == 299  # why per-category guarantees at 99% need big calibration sets


def test_pooled_proposal_stops_where_the_bound_fails() -> None:
    # 400 right at 0.99 and above, then 100 at about 0.80 of which every third is wrong: only the first block.
    confident = items("credit_hold", [0.999 - i * 1e-5 for i in range(400)])
    shaky = [
        Scored("", "other" if i % 3 == 0 else "credit_hold", "credit_hold", 0.80 - i * 1e-4, 0.0)
        for i in range(100)
    ]
    proposal = propose_pooled(confident + shaky, ["credit_hold"], 0.99, 0.95, "clopper-pearson")
    assert proposal.thresholds["credit_hold"] == pytest.approx(min(s.confidence for s in confident))
    point = operating_point(confident + shaky, proposal.thresholds)
    assert (point["auto"], point["errors"]) == (400, 0)


def test_per_class_needs_enough_items_or_never_auto() -> None:
    few = items("shipment_delay", [0.999] * 50)
    many = items("credit_hold", [0.999 - i * 1e-5 for i in range(400)])
    proposal = propose_per_class(few + many, ["shipment_delay", "credit_hold"], 0.99, 0.95, "clopper-pearson")
    assert proposal.thresholds["shipment_delay"] is None  # 50 < 299: cannot reach 99% at 95%
    assert proposal.thresholds["credit_hold"] is not None


def test_suite_reports_held_out_and_a_policy_block(policy: Policy) -> None:
    calibration = items("credit_hold", [0.999 - i * 1e-5 for i in range(400)])
    result = threshold_suite(
        calibration, ["credit_hold"], policy, target=0.99, confidence=0.95, test=calibration[:10]
    )
    assert result["test"]["proposed"]["coverage"] == 1.0
    assert "credit_hold:" in result["policy_block"] and "thresholds: {auto:" in result["policy_block"]
    data = proposed_policy(policy, {"credit_hold": None, "incomplete_order_data": 0.97})
    candidate = Policy.model_validate(data)
    assert candidate.category("incomplete_order_data").thresholds.auto == 0.97
    assert candidate.category("credit_hold").thresholds.auto == 1.0


def test_cost_thresholds_minimise_the_expected_cost(policy: Policy) -> None:
    # 10 items: 8 right at 0.9..0.97, 2 wrong at 0.5, 0.6. A mistake costs 10, a review 1.
    calibration = items("shipment_delay", [0.97, 0.96, 0.95, 0.94, 0.93, 0.92, 0.91, 0.90, 0.6, 0.5], wrong=2)
    costs = Costs(default=Cost(wrong_auto=10, review=1))
    result = cost_suite(calibration, ["shipment_delay"], policy, costs)["per_category"]["shipment_delay"]
    # best: auto from 0.90 (8 right, 2 reviewed) = cost 2; today: shipment_delay is recommend = all reviewed = 10
    assert result["best_auto"] == 0.90
    assert result["best_cost_per_case"] == pytest.approx(0.2)
    assert (result["current_auto"], result["current_cost_per_case"]) == (None, pytest.approx(1.0))


def test_a_regression_beyond_tolerance_fails_and_a_lost_metric_too() -> None:
    rules = Tolerances(
        version=1,
        rules=[
            Rule(metric="classify/accuracy", better="higher", tolerance=0.02),
            Rule(metric="classify/ece", better="lower", tolerance=0.01),
            Rule(metric="classify/coverage_at_precision/0.99", better="higher", tolerance=0.05),
            Rule(metric="e2e/accuracy", better="higher", tolerance=0.0),
        ],
    )
    baseline = {
        "classify": {"accuracy": 0.92, "ece": 0.03, "coverage_at_precision": {"0.99": 0.7}},
        "e2e": {},
    }
    run = {"classify": {"accuracy": 0.905, "ece": 0.05}}
    rows = {row["metric"]: row["status"] for row in compare(run, baseline, rules)}
    assert rows == {
        "classify/accuracy": "ok",  # 0.015 worse, within 0.02
        "classify/ece": "regressed",  # 0.02 worse, beyond 0.01
        "classify/coverage_at_precision/0.99": "missing",  # the suite ran but lost the metric
        "e2e/accuracy": "skipped",  # not in the baseline
    }
    assert len(failed(compare(run, baseline, rules))) == 2
