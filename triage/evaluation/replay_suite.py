"""The ``replay`` suite: the policy in force and each candidate (policy, and optionally model) over recorded
cases, against what happened. This is what promoting a model or a policy can call before switching it on."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from triage.core.events import classification_text
from triage.evaluation.measures import (
    Assumptions,
    as_decided,
    period_days,
    policy_measures,
    recorded_measures,
)
from triage.evaluation.replay import RecordedCase, replay, transitions

if TYPE_CHECKING:
    from triage.engines.classifier import Prediction
    from triage.engines.policy.models import Policy
    from triage.engines.policy.taxonomy import Taxonomy

Predict = Callable[[list[str]], list["Prediction"]]
CURRENT = "current"


def reclassify(cases: Sequence[RecordedCase], predict: Predict) -> list[RecordedCase]:
    predictions = predict([classification_text(case.event) for case in cases])
    return [case.reclassified(p) for case, p in zip(cases, predictions, strict=True)]


def replay_suite(
    cases: Sequence[RecordedCase],
    current: Policy,
    candidates: Mapping[str, Policy],
    taxonomy: Taxonomy,
    assumptions: Assumptions,
    candidate_model: Predict | None = None,
) -> dict[str, Any]:
    """Measures per policy (``current`` first), how decisions moved, and the record's own measures.

    With ``candidate_model`` every policy is also replayed on the candidate model's classification
    (``<policy>+model``); similar cases and drafts stay as recorded.
    """
    now = replay(current, taxonomy, cases)
    decided = as_decided(now, current)
    runs: dict[str, Any] = {CURRENT: now}
    runs |= {name: replay(policy, taxonomy, cases) for name, policy in candidates.items()}
    if candidate_model is not None:
        relabelled = reclassify(cases, candidate_model)
        runs[f"{CURRENT}+model"] = replay(current, taxonomy, relabelled)
        runs |= {f"{name}+model": replay(policy, taxonomy, relabelled) for name, policy in candidates.items()}
    return {
        "n": len(cases),
        "period_days": period_days(now),
        "recorded": recorded_measures(decided),
        "policies": {
            name: policy_measures(replayed, decided, assumptions) for name, replayed in runs.items()
        },
        "changes": {name: transitions(now, replayed) for name, replayed in runs.items() if name != CURRENT},
    }
