"""The promotion rule: is a candidate at least as good as the model in force, at the policy's own thresholds?

Both models are scored on the same rows (``triage/evaluation/candidates.py`` computes the figures); this module
only decides. A candidate is refused when, on the held-out rows (and on the recorded human-confirmed cases once
there are at least ``min_recorded`` of them), any of these is worse than the model in force by more than its
tolerance:

- precision of what the policy's ``auto`` thresholds let through (pooled over categories),
- the share of cases those thresholds let through (coverage),
- accuracy,
- expected calibration error (higher is worse).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from triage.domain.models.schemas import ModelVersionRead


@dataclass(frozen=True)
class PromotionRule:
    precision_tolerance: float = 0.005
    coverage_tolerance: float = 0.02
    accuracy_tolerance: float = 0.01
    ece_tolerance: float = 0.02
    min_recorded: int = 20

    def describe(self) -> str:
        return (
            "refused when worse than the model in force on the held-out rows (and on the recorded "
            f"human-confirmed cases once there are {self.min_recorded}): precision at the policy's auto "
            f"thresholds by more than {self.precision_tolerance}, coverage at them by more than "
            f"{self.coverage_tolerance}, accuracy by more than {self.accuracy_tolerance}, or ECE higher by more "
            f"than {self.ece_tolerance}"
        )


def _auto(figures: dict[str, Any], key: str) -> float:
    value = (figures.get("auto") or {}).get(key)
    return float(value) if value is not None else 0.0


def _checks(
    name: str, candidate: dict[str, Any], in_force: dict[str, Any], rule: PromotionRule
) -> list[dict[str, Any]]:
    pairs = [
        (
            "precision_at_auto",
            _auto(candidate, "precision"),
            _auto(in_force, "precision"),
            rule.precision_tolerance,
            1,
        ),
        (
            "coverage_at_auto",
            _auto(candidate, "coverage"),
            _auto(in_force, "coverage"),
            rule.coverage_tolerance,
            1,
        ),
        ("accuracy", float(candidate["accuracy"]), float(in_force["accuracy"]), rule.accuracy_tolerance, 1),
        ("ece", float(candidate["ece"]), float(in_force["ece"]), rule.ece_tolerance, -1),
    ]
    checks = []
    for figure, cand, cur, tolerance, sign in pairs:
        # sign 1: higher is better; -1: lower is better
        ok = sign * (cand - cur) >= -tolerance - 1e-12
        checks.append(
            {
                "set": name,
                "figure": figure,
                "candidate": round(cand, 4),
                "in_force": round(cur, 4),
                "tolerance": tolerance,
                "ok": ok,
            }
        )
    return checks


def decide(evaluation: dict[str, Any], rule: PromotionRule | None = None) -> dict[str, Any]:
    """The verdict on an evaluation (``heldout`` and ``recorded`` figures of both models): promotable or not,
    every check with both figures and its tolerance, and the failed ones in words."""
    rule = rule or PromotionRule()
    checks = []
    heldout = evaluation.get("heldout") or {}
    if heldout.get("candidate") and heldout.get("in_force"):
        checks += _checks("heldout", heldout["candidate"], heldout["in_force"], rule)
    recorded = evaluation.get("recorded") or {}
    if recorded.get("n", 0) >= rule.min_recorded and recorded.get("candidate") and recorded.get("in_force"):
        checks += _checks("recorded", recorded["candidate"], recorded["in_force"], rule)
    failed = [
        f"{c['set']} {c['figure']}: candidate {c['candidate']} vs {c['in_force']} in force "
        f"(tolerance {c['tolerance']})"
        for c in checks
        if not c["ok"]
    ]
    return {
        "promotable": bool(checks) and not failed,
        "rule": rule.describe(),
        "tolerances": asdict(rule),
        "checks": checks,
        "failed": failed if checks else ["no figures to compare"],
    }


def figures_of(
    version: ModelVersionRead | None, evaluation: dict[str, Any] | None, side: str
) -> dict[str, Any]:
    """What the audit record shows of one model: its id, classifier version and figures (held-out, recorded)."""
    if version is None:
        return {}
    out: dict[str, Any] = {
        "id": version.id,
        "classifier_version": version.classifier_version,
        "recipe": version.recipe.value,
        "collection": version.collection,
        "learnt_from": version.learnt_from,
    }
    if evaluation is not None:
        out["heldout"] = _compact((evaluation.get("heldout") or {}).get(side))
        out["recorded"] = _compact((evaluation.get("recorded") or {}).get(side))
    elif version.evaluation:
        out["heldout"] = _compact((version.evaluation.get("heldout") or {}).get("candidate"))
    if version.training_metrics:
        out["training_cv"] = {
            k: v for k, v in (version.training_metrics.get("cv") or {}).items() if isinstance(v, int | float)
        }
    return out


def _compact(figures: dict[str, Any] | None) -> dict[str, Any] | None:
    if not figures:
        return None
    keys = ("n", "accuracy", "macro_f1", "ece", "auto", "auto_mode_only")
    out = {k: figures[k] for k in keys if k in figures}
    per = figures.get("per_category") or {}
    out["per_category_auto"] = {label: p.get("auto") for label, p in per.items()}
    return out
