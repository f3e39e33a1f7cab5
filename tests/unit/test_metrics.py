"""ECE, coverage at precision and per-class figures on hand-computed examples."""

import pytest

from triage.engines.classifier.metrics import (
    classification_metrics,
    coverage_at_precision,
    expected_calibration_error,
    per_class_report,
)


def test_ece_is_zero_when_confidence_matches_accuracy() -> None:
    # One bin (0.733..0.8] holding four items at 0.75 confidence, three right.
    assert expected_calibration_error([0.75] * 4, [1, 1, 1, 0]) == pytest.approx(0.0)


def test_ece_weights_each_bin_by_its_share() -> None:
    # Bin of 0.95: two items, one right -> gap 0.45. Bin of 0.55: two items, both right -> gap 0.45.
    ece = expected_calibration_error([0.95, 0.95, 0.55, 0.55], [1, 0, 1, 1])
    assert ece == pytest.approx(0.5 * 0.45 + 0.5 * 0.45)


def test_ece_bins_are_closed_on_the_right() -> None:
    # 1/15 belongs to the first bin, together with 0.0: mean confidence (0 + 1/15) / 2, accuracy 0.5.
    ece = expected_calibration_error([0.0, 1 / 15], [1, 0])
    assert ece == pytest.approx(abs(0.5 - (1 / 15) / 2))


def test_coverage_is_the_largest_prefix_meeting_the_level() -> None:
    confidence = [0.99, 0.98, 0.97, 0.96, 0.5, 0.4]
    correct = [1, 1, 0, 1, 0, 1]
    # prefix precisions: 1/1, 2/2, 2/3, 3/4, 3/5, 4/6 -> at or above 0.7 for k in {1, 2, 4}: the largest is 4.
    assert coverage_at_precision(confidence, correct, 0.7) == pytest.approx(4 / 6)
    assert coverage_at_precision(confidence, correct, 0.99) == pytest.approx(2 / 6)


def test_coverage_is_zero_when_the_most_confident_item_is_wrong_and_level_is_one() -> None:
    assert coverage_at_precision([0.9, 0.8], [0, 1], 1.0) == 0.0


def test_per_class_report_counts_predictions_of_unseen_labels() -> None:
    report = per_class_report(["a", "a", "b"], ["a", "c", "b"])
    assert report["a"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert report["c"]["precision"] == 0.0 and report["c"]["support"] == 0


def test_classification_metrics_has_the_contract_keys() -> None:
    result = classification_metrics(["a", "b", "b", "a"], ["a", "b", "a", "a"], [0.9, 0.8, 0.6, 0.7])
    assert result["n"] == 4
    assert result["accuracy"] == 0.75
    assert set(result["coverage_at_precision"]) == {"0.95", "0.99"}
    # By confidence: right, right, right, wrong -> the top three keep precision 1.
    assert result["coverage_at_precision"]["0.95"] == 0.75
    assert set(result["per_class"]) == {"a", "b"}
    assert result["macro_f1"] == pytest.approx((0.8 + 2 / 3) / 2)
