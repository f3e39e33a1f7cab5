"""The ``e2e`` suite: what the whole pipeline decided on a dataset with outcomes, and how fast.

The governance number is ``auto_approved.wrong_share``: of the cases the service would have acted on alone,
the share a human label (the dataset's) or the recorded resolution contradicts. ``novel.auto_approved`` counts
cases whose text was novel yet auto-approved (zero while the policy's novelty rule is on).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from triage.core.vocabulary import GateDecision, ItemStatus

if TYPE_CHECKING:
    from triage.domain.cases.schemas import TriageCase
    from triage.evaluation.recorded import Outcome

AUTO = GateDecision.AUTO_APPROVED.value


def _latency(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "mean": 0.0, "max": 0.0}
    data = np.asarray(values)
    return {
        "p50": float(np.percentile(data, 50)),
        "p95": float(np.percentile(data, 95)),
        "p99": float(np.percentile(data, 99)),
        "mean": float(data.mean()),
        "max": float(data.max()),
    }


def _wrong(case: TriageCase, outcome: Outcome | None) -> tuple[bool, bool]:
    """(label wrong, action wrong) of an auto-approved case against the recorded outcome."""
    if outcome is None:
        return False, False
    actions = {r.action for r in case.recommendations if r.status == ItemStatus.AUTO_APPROVED}
    wrong_label = outcome.label != case.classification.label
    wrong_action = outcome.resolution_action is not None and outcome.resolution_action not in actions
    return wrong_label, wrong_action


def e2e_suite(
    cases: Sequence[TriageCase], latency_ms: Sequence[float], outcomes: Mapping[str, Outcome]
) -> dict[str, Any]:
    n = len(cases)
    decisions = Counter(case.gate.decision.value for case in cases)
    statuses = Counter(case.status.value for case in cases)
    abstained = sum(case.classification.abstained for case in cases)
    auto = [case for case in cases if case.gate.decision.value == AUTO]
    judged = [_wrong(case, outcomes.get(case.event_id)) for case in auto]
    wrong = sum(label or action for label, action in judged)
    per_category: dict[str, Counter[str]] = defaultdict(Counter)
    for case in cases:
        per_category[case.classification.label][case.gate.decision.value] += 1
    correct = sum(
        1 for case in cases if (o := outcomes.get(case.event_id)) and o.label == case.classification.label
    )

    def share(count: int) -> dict[str, Any]:
        return {"count": count, "share": count / n if n else None}

    return {
        "n": n,
        "accuracy": correct / n if n else None,
        "auto_approved": share(len(auto))
        | {
            "wrong": wrong,
            "wrong_share": wrong / len(auto) if auto else None,
            "wrong_label": sum(label for label, _ in judged),
            "wrong_action": sum(action for _, action in judged),
        },
        "needs_review": share(decisions["needs_review"]),
        "blocked": share(decisions["blocked"]),
        "abstained": share(abstained),
        "novel": share(sum(case.classification.novel for case in cases))
        | {"auto_approved": sum(case.classification.novel for case in auto)},
        "degraded": share(sum(bool(case.degraded) for case in cases)),
        "statuses": dict(sorted(statuses.items())),
        "per_category": {label: dict(sorted(c.items())) for label, c in sorted(per_category.items())},
        "latency_ms": _latency(latency_ms),
    }
