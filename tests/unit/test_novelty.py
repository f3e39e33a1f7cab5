"""Novelty: the score, the threshold fitted on held-out rows, and the gate's rule that a novel case is never
auto-approved (the model's threshold, or the policy's when it sets one)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.unit.test_gate import make_input, make_policy
from triage.engines.classifier.novelty import fit_threshold, knn_novelty, novelty_report
from triage.engines.policy.gate import evaluate_gate
from triage.engines.policy.models import Policy


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_a_training_row_scores_zero_and_an_orthogonal_text_scores_one() -> None:
    bank = unit(np.eye(4, dtype=np.float32)[:3].repeat(5, axis=0))  # five copies of three directions
    scores = knn_novelty(unit(np.eye(4, dtype=np.float32)), bank, k=5)
    assert scores[:3] == pytest.approx([0.0, 0.0, 0.0], abs=1e-6)
    assert scores[3] == pytest.approx(1.0)


def test_the_score_grows_as_the_text_moves_away_and_k_is_capped_by_the_bank() -> None:
    eye = np.eye(4, dtype=np.float32)
    bank = eye[:3]
    steps = [unit(eye[:1] * (1 - a) + eye[3:] * a) for a in (0.0, 0.3, 0.6, 0.9)]
    scores = [float(knn_novelty(s, bank, k=1)[0]) for s in steps]
    assert scores == sorted(scores) and scores[0] == pytest.approx(0.0, abs=1e-6) and scores[-1] > 0.8
    assert knn_novelty(eye[:1], bank[:2], k=10).shape == (1,)  # k larger than the bank: all rows used


def test_the_threshold_is_the_held_out_quantile_and_the_report_splits_accuracy() -> None:
    held = np.linspace(0.0, 1.0, 101)
    threshold = fit_threshold(held, 0.98)
    assert threshold == pytest.approx(0.98, abs=1e-4)
    assert (held >= threshold).mean() == pytest.approx(0.03, abs=0.011)
    correct = held < 0.5
    report = novelty_report(held, correct, 0.5)
    assert report["accuracy_familiar"] == 1.0 and report["accuracy_novel"] == 0.0
    assert report["novel_share"] == pytest.approx(51 / 101, abs=1e-4)


def test_a_novel_case_is_never_auto_approved_whatever_its_confidence() -> None:
    policy = make_policy()
    familiar = evaluate_gate(policy, make_input(confidence=0.999, novelty=0.10, novelty_threshold=0.35))
    assert familiar.decision == "auto_approved"
    novel = evaluate_gate(policy, make_input(confidence=0.999, novelty=0.35, novelty_threshold=0.35))
    assert novel.decision != "auto_approved"
    assert all(item.status != "auto_approved" for item in novel.items)
    reasons = [r for r in novel.reasons if r.rule == "novelty.review_novel"]
    assert reasons and reasons[0].item == "case" and "0.3500 >= 0.3500" in reasons[0].detail


def test_the_policy_threshold_overrides_the_models_and_the_rule_can_be_turned_off() -> None:
    data = make_policy().model_dump(mode="json")
    stricter = Policy.model_validate(data | {"novelty": {"review_novel": True, "threshold": 0.2}})
    case = make_input(novelty=0.25, novelty_threshold=0.35)
    assert evaluate_gate(make_policy(), case).decision == "auto_approved"
    assert evaluate_gate(stricter, case).decision != "auto_approved"
    off = Policy.model_validate(data | {"novelty": {"review_novel": False}})
    assert evaluate_gate(off, make_input(novelty=0.9, novelty_threshold=0.35)).decision == "auto_approved"


def test_a_model_without_novelty_is_gated_as_before() -> None:
    assert evaluate_gate(make_policy(), make_input(novelty=None, novelty_threshold=None)).decision == (
        "auto_approved"
    )


def test_the_policy_refuses_a_threshold_outside_zero_to_one() -> None:
    data = make_policy().model_dump(mode="json")
    with pytest.raises(ValueError, match="novelty"):
        Policy.model_validate(data | {"novelty": {"threshold": 1.5}})


def test_require_vote_for_auto_holds_back_an_action_the_similar_cases_did_not_agree_on() -> None:
    data = make_policy().model_dump(mode="json")
    data["retrieval"]["require_vote_for_auto"] = True
    strict = Policy.model_validate(data)
    assert evaluate_gate(strict, make_input()).decision == "auto_approved"  # voted for its own action
    undecided = evaluate_gate(strict, make_input(predicted_action=None, predicted_confidence=None))
    assert undecided.decision != "auto_approved"
    assert "retrieval.require_vote_for_auto" in {r.rule for r in undecided.reasons}
    lenient = make_input(predicted_action=None, predicted_confidence=None)
    assert evaluate_gate(make_policy(), lenient).decision == "auto_approved"  # off by default
