"""The similarity-weighted resolution vote: maths and the reasons it abstains."""

from __future__ import annotations

from typing import TypedDict

import pytest

from triage.engines.retrieval import Neighbour, predict_resolution


class Thresholds(TypedDict):
    min_score: float
    min_agreement: float
    min_support: int


THRESHOLDS: Thresholds = {"min_score": 0.5, "min_agreement": 0.6, "min_support": 2}


def neighbour(score: float, action: str | None, case_id: str = "c") -> Neighbour:
    return Neighbour(
        case_id=case_id,
        score=score,
        label="inventory_shortage",
        summary="s",
        resolution="r",
        resolution_action=action,
        outcome="resolved",
        hours_to_resolve=4.0,
    )


def test_weighted_majority_wins_with_support_and_confidence() -> None:
    vote = predict_resolution(
        [neighbour(0.9, "transfer_stock"), neighbour(0.8, "transfer_stock"), neighbour(0.7, "backorder")],
        **THRESHOLDS,
    )
    assert vote.action == "transfer_stock"
    assert vote.support == 2
    assert vote.weight == pytest.approx(1.7)
    assert vote.total_weight == pytest.approx(2.4)
    assert vote.confidence == pytest.approx(1.7 / 2.4)
    assert vote.reason is None


def test_weight_beats_head_count() -> None:
    # two weak votes for "backorder" (0.55 + 0.55 = 1.1) lose to two strong ones (0.95 + 0.9 = 1.85)
    vote = predict_resolution(
        [
            neighbour(0.95, "transfer"),
            neighbour(0.9, "transfer"),
            neighbour(0.55, "backorder"),
            neighbour(0.55, "backorder"),
        ],
        min_score=0.5,
        min_agreement=0.5,
        min_support=2,
    )
    assert vote.action == "transfer"
    assert vote.confidence == pytest.approx(1.85 / 2.95)


def test_neighbours_below_min_score_do_not_vote() -> None:
    vote = predict_resolution(
        [neighbour(0.9, "transfer"), neighbour(0.85, "transfer"), neighbour(0.3, "backorder")], **THRESHOLDS
    )
    assert vote.action == "transfer"
    assert vote.confidence == pytest.approx(1.0)
    assert vote.total_weight == pytest.approx(1.75)


def test_absent_when_too_far() -> None:
    vote = predict_resolution([neighbour(0.4, "transfer"), neighbour(0.3, "transfer")], **THRESHOLDS)
    assert vote.action is None
    assert vote.support == 0
    assert vote.reason is not None and "close enough" in vote.reason and "0.40" in vote.reason


def test_absent_when_neighbours_disagree() -> None:
    vote = predict_resolution(
        [neighbour(0.9, "transfer"), neighbour(0.88, "backorder"), neighbour(0.86, "substitute")],
        **THRESHOLDS,
    )
    assert vote.action is None
    assert vote.reason is not None and "disagree" in vote.reason
    assert vote.confidence < THRESHOLDS["min_agreement"]


def test_absent_when_too_few_supporters() -> None:
    vote = predict_resolution([neighbour(0.9, "transfer")], **THRESHOLDS)
    assert vote.action is None
    assert vote.support == 1
    assert vote.reason is not None and "too few" in vote.reason


def test_absent_without_any_recorded_action_or_neighbour() -> None:
    assert predict_resolution([], **THRESHOLDS).reason == "no similar case has a recorded resolution"
    vote = predict_resolution([neighbour(0.9, None), neighbour(0.9, None)], **THRESHOLDS)
    assert vote.action is None and vote.total_weight == 0.0


def test_ties_are_deterministic() -> None:
    first = predict_resolution(
        [neighbour(0.8, "b"), neighbour(0.8, "a")], min_score=0.5, min_agreement=0.5, min_support=1
    )
    second = predict_resolution(
        [neighbour(0.8, "a"), neighbour(0.8, "b")], min_score=0.5, min_agreement=0.5, min_support=1
    )
    assert first.action == second.action == "b"
