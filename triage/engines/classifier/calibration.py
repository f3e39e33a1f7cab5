"""Temperature scaling: one scalar fitted on held-out logits by minimising the negative log-likelihood."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax


def softmax_with_temperature(logits: NDArray[np.floating], temperature: float) -> NDArray[np.float64]:
    return np.asarray(softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=1))


def negative_log_likelihood(
    logits: NDArray[np.floating], labels: NDArray[np.integer], temperature: float
) -> float:
    logp = log_softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=1)
    return float(-logp[np.arange(len(labels)), labels].mean())


def fit_temperature(logits: NDArray[np.floating], labels: NDArray[np.integer]) -> float:
    """The temperature in [0.05, 20] that minimises held-out NLL (1.0 when there is nothing to fit on)."""
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) == 0:
        return 1.0
    result = minimize_scalar(
        lambda log_t: negative_log_likelihood(logits, labels, float(np.exp(log_t))),
        bounds=(np.log(0.05), np.log(20.0)),
        method="bounded",
        options={"xatol": 1e-4},
    )
    return float(np.exp(result.x))
