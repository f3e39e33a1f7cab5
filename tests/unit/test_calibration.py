"""Temperature scaling recovers the temperature that generated the labels."""

import numpy as np
import pytest

from triage.engines.classifier.calibration import fit_temperature, negative_log_likelihood


@pytest.mark.parametrize("true_temperature", [0.5, 2.0])
def test_fit_temperature_recovers_a_known_temperature(true_temperature: float) -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=3.0, size=(20000, 5))
    scaled = logits / true_temperature
    probs = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(5, p=p) for p in probs])
    fitted = fit_temperature(logits, labels)
    assert fitted == pytest.approx(true_temperature, rel=0.05)
    assert negative_log_likelihood(logits, labels, fitted) <= negative_log_likelihood(logits, labels, 1.0)


def test_fit_temperature_without_data_is_identity() -> None:
    assert fit_temperature(np.zeros((0, 3)), np.zeros(0, dtype=int)) == 1.0
