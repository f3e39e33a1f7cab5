"""The resolution path the neighbours point to: a similarity-weighted vote over their resolution actions.

The thresholds are governed policy (``guardrails/policy.yaml``, ``retrieval:``), passed in by the caller.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from triage.engines.retrieval.models import Neighbour


@dataclass(frozen=True)
class ResolutionVote:
    """The predicted resolution action, or ``action=None`` with the ``reason`` it is withheld.

    ``support`` is how many neighbours voted for the action, ``weight`` their summed similarity,
    ``total_weight`` the summed similarity of every neighbour that voted,
    ``confidence`` = weight / total_weight.
    """

    action: str | None
    confidence: float
    support: int
    weight: float
    total_weight: float
    reason: str | None


def predict_resolution(
    neighbours: Sequence[Neighbour], *, min_score: float, min_agreement: float, min_support: int
) -> ResolutionVote:
    """Vote over the neighbours scoring at least ``min_score`` that carry a resolution action.

    Absent when no neighbour is close enough, when the winning action's share of the weight is below
    ``min_agreement``, or when fewer than ``min_support`` neighbours back it.
    """
    voters = [n for n in neighbours if n.resolution_action and n.score >= min_score]
    if not voters:
        with_action = [n for n in neighbours if n.resolution_action]
        if not with_action:
            reason = "no similar case has a recorded resolution"
        else:
            best = max(n.score for n in with_action)
            reason = f"no similar case is close enough (best score {best:.2f} < {min_score:.2f})"
        return ResolutionVote(None, 0.0, 0, 0.0, 0.0, reason)

    weights: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for neighbour in voters:
        action = str(neighbour.resolution_action)
        weights[action] += neighbour.score
        counts[action] += 1
    total = sum(weights.values())
    # ties broken by support, then by name, so the same neighbours always give the same answer
    action = max(weights, key=lambda a: (weights[a], counts[a], a))
    confidence = weights[action] / total if total > 0 else 0.0
    support = counts[action]
    if confidence < min_agreement:
        reason = (
            f"similar cases disagree: {action!r} has {confidence:.0%} of the weight "
            f"(needs {min_agreement:.0%}) among {len(voters)} cases"
        )
        return ResolutionVote(None, confidence, support, weights[action], total, reason)
    if support < min_support:
        reason = f"too few similar cases: {support} back {action!r} (needs {min_support})"
        return ResolutionVote(None, confidence, support, weights[action], total, reason)
    return ResolutionVote(action, confidence, support, weights[action], total, None)
