"""The history and test files: label quotas, dates in two time windows, unique ids and descriptions."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from eval.history.factory import CaseFactory
from eval.history.mix import MIX

Rows = list[dict[str, Any]]

# Every test case happens after every history case.
HISTORY_WINDOW = (date(2024, 1, 2), date(2025, 6, 30))
TEST_WINDOW = (date(2025, 7, 1), date(2025, 12, 19))
# Draws of a case until its description is new; a repeat after that many is kept.
MAX_TRIES = 50


def generate(seed: int, n_history: int = 3600, n_test: int = 800) -> tuple[Rows, Rows]:
    """Build the history and test cases for ``seed``: disjoint ids, no description shared between the two."""
    rng = random.Random(seed)
    factory = CaseFactory(rng)
    labels, weights = list(MIX.labels), list(MIX.labels.values())
    seen: set[str] = set()
    parts: list[Rows] = []
    for size, (start, end) in ((n_history, HISTORY_WINDOW), (n_test, TEST_WINDOW)):
        span = (end - start).days
        rows = []
        for label in quota(labels, weights, size):
            for _ in range(MAX_TRIES):
                row = factory.case(label, start + timedelta(days=rng.randint(0, span)))
                if row["event"]["description"] not in seen:
                    break
            seen.add(row["event"]["description"])
            rows.append(row)
        rows.sort(key=lambda r: (r["_occurred"], r["event"]["description"]))
        parts.append(rows)
    counter = 0
    for rows in parts:
        for row in rows:
            counter += 1
            row["event"]["event_id"] = f"EVT-{row.pop('_occurred').year}-{counter:06d}"
    return parts[0], parts[1]


def quota(labels: Sequence[str], weights: Sequence[int], size: int) -> list[str]:
    """Exact per-label counts (largest remainder), in a fixed order; the caller's rng spreads the dates."""
    total = sum(weights)
    exact = [size * w / total for w in weights]
    counts = [int(x) for x in exact]
    for i in sorted(range(len(labels)), key=lambda i: exact[i] - counts[i], reverse=True)[
        : size - sum(counts)
    ]:
        counts[i] += 1
    return [label for label, n in zip(labels, counts, strict=True) for _ in range(n)]


def write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """``rows`` as JSON lines with ``\\n`` endings and UTF-8 text, whatever the platform."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def distribution_table(history: Sequence[dict[str, Any]], test: Sequence[dict[str, Any]]) -> str:
    """A Markdown table of label counts and shares in both files."""
    h, t = Counter(r["label"] for r in history), Counter(r["label"] for r in test)
    out = ["| label | history | % | test | % |", "|---|---:|---:|---:|---:|"]
    for label in MIX.labels:
        out.append(
            f"| `{label}` | {h[label]} | {100 * h[label] / len(history):.1f} | {t[label]} | "
            f"{100 * t[label] / len(test):.1f} |"
        )
    out.append(f"| **total** | {len(history)} | 100 | {len(test)} | 100 |")
    return "\n".join(out)
