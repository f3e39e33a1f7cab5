"""The ``thresholds`` suite: per-category auto thresholds proposed from a calibration split.

**Target precision with a stated confidence.** A set of auto-approved items is accepted when a one-sided
lower confidence bound on its precision (Clopper-Pearson, from ``scipy.stats.beta``, or Wilson, from
``scipy.stats.binomtest``) is at least the target. Candidate thresholds are tested from the most confident
down and the scan stops at the first failure (fixed-sequence testing), so the chosen threshold keeps the
stated confidence despite trying many.

- ``scope="pooled"`` (default): one threshold ``tau`` for all categories, with a guarantee on the precision of
  everything auto-approved; a category whose calibration items above ``tau`` are significantly *below* the
  target (the upper bound misses it) is raised until they are not, or set to "never auto". Per-category
  guarantees at 99% need hundreds of items per category (see ``min_items``), which few calibration sets have.
- ``scope="per-class"``: each category on its own evidence; categories that cannot reach the target with
  their calibration items are "never auto".

**Cost.** Given the cost of a wrong auto-decision and of a human review per category (``eval/costs.yaml``), the
threshold minimising the expected cost on the calibration items, with today's threshold's cost beside it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from triage.core.governed import load_governed
from triage.engines.policy.models import Mode, Policy
from triage.evaluation.metrics import Scored, arrays

Method = Literal["clopper-pearson", "wilson"]
Scope = Literal["pooled", "per-class"]
METHODS: tuple[Method, ...] = ("clopper-pearson", "wilson")
SCOPES: tuple[Scope, ...] = ("pooled", "per-class")
NEVER = None


def lower_bound(k: int, n: int, confidence: float, method: Method) -> float:
    """One-sided lower confidence bound on a proportion of ``k`` successes in ``n``."""
    if n == 0:
        return 0.0
    from scipy.stats import beta, binomtest

    if method == "clopper-pearson":
        return 0.0 if k == 0 else float(beta.ppf(1 - confidence, k, n - k + 1))
    # a two-sided interval at 1 - 2 alpha has the one-sided lower bound at 1 - alpha
    return float(binomtest(k, n).proportion_ci(2 * confidence - 1, method="wilson").low)


def upper_bound(k: int, n: int, confidence: float) -> float:
    """One-sided Clopper-Pearson upper bound (used to find categories clearly below the target)."""
    from scipy.stats import beta

    return 1.0 if k == n else float(beta.ppf(confidence, k + 1, n - k))


def min_items(target: float, confidence: float) -> int:
    """The fewest items, all correct, whose Clopper-Pearson lower bound reaches ``target``."""
    return math.ceil(math.log(1 - confidence) / math.log(target))


@dataclass(frozen=True)
class _Class:
    conf: NDArray[np.float64]
    """The category's calibration confidences, highest first."""
    hits: NDArray[np.int64]
    """Cumulative correct count along ``conf``."""

    def counts(self, threshold: float) -> tuple[int, int]:
        n = int(np.searchsorted(-self.conf, -threshold, side="right"))
        return (int(self.hits[n - 1]) if n else 0), n


def _by_class(items: Sequence[Scored], labels: Sequence[str]) -> dict[str, _Class]:
    out = {}
    for label in labels:
        mine = [s for s in items if s.predicted == label]
        conf, hit = arrays(mine)
        order = np.argsort(-conf, kind="stable")
        out[label] = _Class(conf[order], np.cumsum(hit[order].astype(np.int64)))
    return out


def _fixed_sequence(candidates: Sequence[float], passes: Callable[[float], bool | None]) -> float | None:
    """The lowest candidate (scanning from the highest) before the first that fails; ``passes`` answers None
    for a candidate with too few items to be tested at all (it is skipped, neither a pass nor a failure)."""
    chosen = NEVER
    for threshold in candidates:
        verdict = passes(threshold)
        if verdict is None:
            continue
        if not verdict:
            break
        chosen = threshold
    return chosen


def _raise_for(cls: _Class, tau: float, target: float, confidence: float) -> float | None:
    """The lowest threshold >= ``tau`` at which the category is not significantly below ``target``."""
    for threshold in sorted({float(c) for c in cls.conf if c >= tau}):
        k, n = cls.counts(threshold)
        if upper_bound(k, n, confidence) >= target:
            return threshold
    return tau if cls.counts(tau)[1] == 0 else NEVER


@dataclass(frozen=True)
class Proposal:
    thresholds: dict[str, float | None]
    """Per category: the proposed auto threshold, or None for "never auto"."""
    tau: float | None


def propose_pooled(
    items: Sequence[Scored], labels: Sequence[str], target: float, confidence: float, method: Method
) -> Proposal:
    classes = _by_class(items, labels)
    candidates = sorted({s.confidence for s in items}, reverse=True)
    per_tau: dict[float, dict[str, float | None]] = {}
    fewest = min_items(target, confidence)

    def passes(tau: float) -> bool | None:
        if sum(s.confidence >= tau for s in items) < fewest:
            return None
        raised = {label: _raise_for(cls, tau, target, confidence) for label, cls in classes.items()}
        per_tau[tau] = raised
        k = n = 0
        for label, threshold in raised.items():
            if threshold is not None:
                dk, dn = classes[label].counts(threshold)
                k, n = k + dk, n + dn
        return n > 0 and lower_bound(k, n, confidence, method) >= target

    tau = _fixed_sequence(candidates, passes)
    thresholds = per_tau[tau] if tau is not None else dict.fromkeys(labels, NEVER)
    return Proposal(thresholds, tau)


def propose_per_class(
    items: Sequence[Scored], labels: Sequence[str], target: float, confidence: float, method: Method
) -> Proposal:
    thresholds: dict[str, float | None] = {}
    fewest = min_items(target, confidence)
    for label, cls in _by_class(items, labels).items():
        candidates = sorted({float(c) for c in cls.conf}, reverse=True)

        def passes(t: float, cls: _Class = cls) -> bool | None:
            k, n = cls.counts(t)
            return None if n < fewest else lower_bound(k, n, confidence, method) >= target

        thresholds[label] = _fixed_sequence(candidates, passes)
    return Proposal(thresholds, None)


def operating_point(items: Sequence[Scored], thresholds: Mapping[str, float | None]) -> dict[str, Any]:
    """Coverage and precision of auto-approving ``items`` at ``thresholds`` (by predicted category)."""
    chosen = [s for s in items if (t := thresholds.get(s.predicted)) is not None and s.confidence >= t]
    right = sum(s.correct for s in chosen)
    return {
        "n": len(items),
        "auto": len(chosen),
        "coverage": len(chosen) / len(items) if items else 0.0,
        "precision": right / len(chosen) if chosen else None,
        "errors": len(chosen) - right,
    }


def _per_category(
    items: Sequence[Scored], thresholds: dict[str, float | None], policy: Policy
) -> dict[str, dict[str, Any]]:
    out = {}
    for label, threshold in thresholds.items():
        mine = [s for s in items if s.predicted == label]
        point = operating_point(mine, {label: threshold})
        out[label] = {
            "proposed_auto": threshold,
            "never_auto": threshold is None,
            "current_auto": policy.category(label).thresholds.auto,
            "mode": policy.category(label).mode.value,
            "calibration": point,
        }
    return out


def threshold_suite(
    calibration: Sequence[Scored],
    labels: Sequence[str],
    policy: Policy,
    *,
    target: float,
    confidence: float,
    method: Method = "clopper-pearson",
    scope: Scope = "pooled",
    test: Sequence[Scored] | None = None,
) -> dict[str, Any]:
    """Proposed thresholds, their expected coverage on the calibration items and, given ``test``, what they
    achieve on held-out items (beside today's thresholds on the same items)."""
    propose = propose_pooled if scope == "pooled" else propose_per_class
    proposal = propose(calibration, labels, target, confidence, method)
    today = {label: policy.category(label).thresholds.auto for label in labels}
    result: dict[str, Any] = {
        "target_precision": target,
        "confidence": confidence,
        "method": method,
        "scope": scope,
        "calibration_n": len(calibration),
        "min_items_per_category_for_a_guarantee": min_items(target, confidence),
        "tau": proposal.tau,
        "proposed": operating_point(calibration, proposal.thresholds),
        "current": operating_point(calibration, today),
        "per_category": _per_category(calibration, proposal.thresholds, policy),
        "policy_block": policy_block(proposal, policy, calibration, target, confidence, method, scope),
    }
    if test is not None:
        result["test"] = {
            "proposed": operating_point(test, proposal.thresholds),
            "current": operating_point(test, today),
        }
    return result


def policy_block(
    proposal: Proposal,
    policy: Policy,
    calibration: Sequence[Scored],
    target: float,
    confidence: float,
    method: str,
    scope: str,
) -> str:
    """The proposal as a ``categories:`` block to paste into the policy file, with why in comments."""
    point = operating_point(calibration, proposal.thresholds)
    lines = [
        f"# Proposed by `triage eval thresholds` from {len(calibration)} calibration cases: precision >= {target}",
        f"# at {confidence:.0%} confidence ({method} lower bound, {scope}); expected coverage "
        f"{point['coverage']:.3f} (calibration). Categories marked never-auto could not reach the target.",
        "categories:",
    ]
    for label, threshold in sorted(proposal.thresholds.items()):
        rules = policy.category(label)
        mine = operating_point([s for s in calibration if s.predicted == label], {label: threshold})
        if threshold is None:
            mode = Mode.RECOMMEND.value if rules.mode is Mode.AUTO else rules.mode.value
            lines += [f"  {label}:", f"    mode: {mode}  # never auto: {mine['n']} calibration cases"]
            continue
        auto = max(threshold, rules.thresholds.review)
        precision = "n/a" if mine["precision"] is None else f"{mine['precision']:.3f}"
        lines += [
            f"  {label}:",
            f"    thresholds: {{auto: {auto:.4f}}}  # coverage {mine['coverage']:.3f}, precision {precision}"
            f" on {mine['n']}",
        ]
    return "\n".join(lines) + "\n"


def proposed_policy(policy: Policy, thresholds: dict[str, float | None]) -> dict[str, Any]:
    """The whole policy with the proposal applied (a candidate for ``triage eval replay --policy``)."""
    data = policy.model_dump(mode="json", exclude_none=True)
    for label, threshold in thresholds.items():
        rules = policy.category(label)
        entry = data["categories"].setdefault(label, {})
        if threshold is None:
            entry["thresholds"] = {**entry.get("thresholds", {}), "auto": 1.0}
            if rules.mode is Mode.AUTO:
                entry["mode"] = Mode.RECOMMEND.value
        else:
            entry["thresholds"] = {
                **entry.get("thresholds", {}),
                "auto": round(max(threshold, rules.thresholds.review), 6),
            }
    data["version"] = f"{policy.version}+proposed"
    return data


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Cost(_Strict):
    wrong_auto: Annotated[float, Field(ge=0)]
    review: Annotated[float, Field(ge=0)]


class Costs(_Strict):
    """``eval/costs.yaml``: the cost of a wrong auto-decision and of a human review, per category."""

    default: Cost
    categories: dict[str, Cost] = Field(default_factory=dict)

    def of(self, label: str) -> Cost:
        return self.categories.get(label, self.default)


def load_costs(path: Path) -> Costs:
    return load_governed(path, Costs)


def _cost(cls: _Class, threshold: float | None, cost: Cost, total: int) -> float:
    k, n = cls.counts(threshold) if threshold is not None else (0, 0)
    return cost.wrong_auto * (n - k) + cost.review * (total - n)


def cost_suite(
    calibration: Sequence[Scored], labels: Sequence[str], policy: Policy, costs: Costs
) -> dict[str, Any]:
    """Per category, the auto threshold with the least expected cost per case, beside today's."""
    per_category = {}
    best_total = today_total = 0.0
    for label, cls in _by_class(calibration, labels).items():
        total, cost = len(cls.conf), costs.of(label)
        options: list[float | None] = [NEVER, *sorted({float(c) for c in cls.conf})]
        best = min(options, key=lambda t: (_cost(cls, t, cost, total), -(t or 2.0)))
        rules = policy.category(label)
        today = rules.thresholds.auto if rules.mode is Mode.AUTO else NEVER
        best_cost, today_cost = _cost(cls, best, cost, total), _cost(cls, today, cost, total)
        best_total, today_total = best_total + best_cost, today_total + today_cost
        per_category[label] = {
            "costs": cost.model_dump(),
            "cases": total,
            "best_auto": best,
            "best_cost_per_case": best_cost / total if total else None,
            "current_auto": today,
            "current_mode": rules.mode.value,
            "current_cost_per_case": today_cost / total if total else None,
        }
    n = len(calibration)
    return {
        "per_category": per_category,
        "best_cost_per_case": best_total / n if n else None,
        "current_cost_per_case": today_total / n if n else None,
    }
