"""Comparing a run with a baseline run: a regression beyond the stated tolerance fails.

The rules are data (``eval/baselines/tolerances.yaml``): a metric's path in the run's JSON (``/``-separated,
since keys such as ``0.99`` hold dots), which direction is better, and the absolute tolerance. A metric is
compared when both runs have it; a metric the baseline has and the run lacks, in a suite the run did run, is
a failure too (a suite that silently stops reporting must not pass).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from triage.core.governed import load_governed


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rule(_Strict):
    metric: Annotated[str, Field(min_length=1)]
    better: Literal["higher", "lower"]
    tolerance: Annotated[float, Field(ge=0)]


class Tolerances(_Strict):
    version: int
    rules: list[Rule]


def load_tolerances(path: Path) -> Tolerances:
    return load_governed(path, Tolerances)


def lookup(result: dict[str, Any], path: str) -> Any:
    node: Any = result
    for key in path.split("/"):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def compare(run: dict[str, Any], baseline: dict[str, Any], tolerances: Tolerances) -> list[dict[str, Any]]:
    """One row per rule: ``ok``, ``regressed``, ``missing`` (the run's suite lost the metric) or ``skipped``."""
    rows = []
    for rule in tolerances.rules:
        suite = rule.metric.split("/", 1)[0]
        before, now = lookup(baseline, rule.metric), lookup(run, rule.metric)
        row: dict[str, Any] = rule.model_dump() | {"baseline": before, "current": now, "delta": None}
        if not isinstance(before, int | float):
            row["status"] = "skipped"
        elif not isinstance(now, int | float):
            row["status"] = "missing" if suite in run else "skipped"
        else:
            delta = float(now) - float(before)
            worse = -delta if rule.better == "higher" else delta
            row["delta"] = delta
            row["status"] = "regressed" if worse > rule.tolerance + 1e-12 else "ok"
        rows.append(row)
    return rows


def failed(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [row for row in rows if row["status"] in ("regressed", "missing")]


def summary_lines(rows: list[dict[str, Any]]) -> list[str]:
    def fmt(value: Any) -> str:
        return f"{value:.4f}" if isinstance(value, float) else str(value)

    return [
        f"{row['status']:>9}  {row['metric']}: {fmt(row['baseline'])} -> {fmt(row['current'])}"
        f" ({row['better']} is better, tolerance {row['tolerance']})"
        for row in rows
        if row["status"] != "skipped"
    ]
