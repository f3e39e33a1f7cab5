"""Temperature scaling: one scalar fitted on held-out logits by minimising the negative log-likelihood."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.special import log_softmax, softmax


def softmax_with_temperature(logits: NDArray[np.floating], temperature: float) -> NDArray[np.float64]:
    return np.asarray(softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=1))


def negative_log_likelihood(
    logits: NDArray[np.floating], labels: NDArray[np.integer], temperature: float
) -> float:
    logp = log_softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=1)
    return float(-logp[np.arange(len(labels)), labels].mean())


def fit_temperature(logits: NDArray[np.floating], labels: NDArray[np.integer]) -> float:
    """The temperature in [0.05, 20] that minimises held-out NLL (1.0 when there is nothing to fit on).

    The NLL is convex in the inverse temperature ``b`` (its second derivative is the mean variance of the
    logits under the softmax), so a safeguarded Newton iteration on ``b`` finds the minimum in a handful of
    passes; the mixture-weight search calls this a thousand times per training run.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) == 0:
        return 1.0
    z = np.asarray(logits, dtype=np.float64)
    z_true = z[np.arange(len(labels)), labels]
    low, high = 1 / 20.0, 1 / 0.05

    def evaluate(b: float) -> tuple[float, float, float]:
        scaled = b * z
        top = scaled.max(axis=1, keepdims=True)
        p = np.exp(scaled - top)
        total = p.sum(axis=1, keepdims=True)
        p /= total
        mean_z = (p * z).sum(axis=1)
        loss = float(np.mean(np.log(total[:, 0]) + top[:, 0] - b * z_true))
        gradient = float(np.mean(mean_z - z_true))
        curvature = float(np.mean((p * z * z).sum(axis=1) - mean_z**2))
        return loss, gradient, curvature

    b = 1.0
    loss, gradient, curvature = evaluate(b)
    for _ in range(100):
        if curvature <= 1e-12:
            b_next = high if gradient < 0 else low
        else:
            b_next = float(np.clip(b - gradient / curvature, low, high))
        if abs(b_next - b) <= 1e-7 * b:
            break
        # Backtrack towards ``b`` until the loss does not increase (Newton can overshoot far from the minimum).
        for _ in range(30):
            next_loss, next_gradient, next_curvature = evaluate(b_next)
            if next_loss <= loss + 1e-12:
                break
            b_next = (b + b_next) / 2
        else:
            break
        b, loss, gradient, curvature = b_next, next_loss, next_gradient, next_curvature
    return 1.0 / b
