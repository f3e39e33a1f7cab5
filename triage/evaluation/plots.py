"""Figures for the report as inline SVG (matplotlib's Agg backend, no pyplot state), so the page opens offline."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_XML_HEAD = re.compile(r"^.*?(?=<svg)", re.DOTALL)


def _figure(width: float, height: float) -> Figure:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    return _XML_HEAD.sub("", buffer.getvalue(), count=1)


def reliability(rows: Sequence[dict[str, Any]], adaptive: Sequence[dict[str, Any]]) -> str:
    """Accuracy against mean confidence per bin (equal-width and equal-mass), with the items per bin."""
    figure = _figure(7.5, 4.2)
    axes = figure.add_subplot(1, 1, 1)
    axes.plot([0, 1], [0, 1], color="#999", linestyle="--", linewidth=1, label="perfect calibration")
    axes.plot(
        [r["confidence"] for r in rows], [r["accuracy"] for r in rows], "o-", label="equal-width bins (15)"
    )
    axes.plot(
        [r["confidence"] for r in adaptive],
        [r["accuracy"] for r in adaptive],
        "s-",
        label=f"equal-mass bins ({len(adaptive)})",
    )
    axes.set_xlabel("mean confidence in bin")
    axes.set_ylabel("accuracy in bin")
    axes.set_xlim(0, 1.01)
    axes.set_ylim(0, 1.01)
    counts = axes.twinx()
    counts.bar(
        [(r["lower"] + r["upper"]) / 2 for r in rows],
        [r["count"] for r in rows],
        width=[(r["upper"] - r["lower"]) * 0.9 for r in rows],
        alpha=0.18,
        color="#555",
    )
    counts.set_ylabel("items per equal-width bin (bars)")
    for r in rows:
        counts.annotate(str(r["count"]), ((r["lower"] + r["upper"]) / 2, r["count"]), ha="center", fontsize=7)
    axes.legend(loc="upper left", fontsize=8)
    return _svg(figure)


def risk_coverage(curves: dict[str, Sequence[dict[str, Any]]], marks: dict[str, float]) -> str:
    """Error rate of the most confident share against that share, per model; vertical lines at ``marks``."""
    figure = _figure(7.5, 4.0)
    axes = figure.add_subplot(1, 1, 1)
    for name, points in curves.items():
        axes.plot([p["coverage"] for p in points], [p["risk"] for p in points], label=name)
    for name, coverage in marks.items():
        axes.axvline(coverage, color="#c33", linestyle=":", linewidth=1)
        axes.annotate(name, (coverage, axes.get_ylim()[1] * 0.9), rotation=90, fontsize=7, color="#c33")
    axes.set_xlabel("coverage (share decided at or above the threshold)")
    axes.set_ylabel("risk (error rate among them)")
    axes.legend(fontsize=8)
    return _svg(figure)


def confusion(labels: Sequence[str], matrix: Sequence[Sequence[int]]) -> str:
    """Row-normalised heat map (true label by row), with counts written in when the matrix is small."""
    import numpy as np

    data = np.asarray(matrix, dtype=float)
    rows = data.sum(axis=1, keepdims=True)
    share = np.divide(data, rows, out=np.zeros_like(data), where=rows > 0)
    size = max(4.5, min(16.0, 0.22 * len(labels) + 3))
    figure = _figure(size + 1.5, size)
    axes = figure.add_subplot(1, 1, 1)
    image = axes.imshow(share, cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(image, ax=axes, shrink=0.7, label="share of the true label's items")
    ticks = range(len(labels))
    font = 8 if len(labels) <= 20 else 5
    axes.set_xticks(list(ticks), labels=list(labels), rotation=90, fontsize=font)
    axes.set_yticks(list(ticks), labels=list(labels), fontsize=font)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    if len(labels) <= 20:
        for i, row in enumerate(data):
            for j, value in enumerate(row):
                if value:
                    colour = "white" if share[i, j] > 0.5 else "black"
                    axes.text(j, i, str(int(value)), ha="center", va="center", fontsize=7, color=colour)
    return _svg(figure)


def grouped_bars(title: str, groups: Sequence[str], series: dict[str, Sequence[float]], ylabel: str) -> str:
    """One group of bars per entry of ``groups``, one bar per series."""
    figure = _figure(7.5, 3.6)
    axes = figure.add_subplot(1, 1, 1)
    width = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series.items()):
        axes.bar([g + i * width for g in range(len(groups))], values, width=width, label=name)
    axes.set_xticks([g + width * (len(series) - 1) / 2 for g in range(len(groups))], labels=list(groups))
    axes.tick_params(axis="x", labelsize=8, rotation=20)
    axes.set_ylabel(ylabel)
    axes.set_title(title, fontsize=10)
    axes.legend(fontsize=8)
    return _svg(figure)


def histogram(title: str, values: Sequence[float], xlabel: str) -> str:
    figure = _figure(7.5, 3.0)
    axes = figure.add_subplot(1, 1, 1)
    axes.hist(list(values), bins=40)
    axes.set_title(title, fontsize=10)
    axes.set_xlabel(xlabel)
    axes.set_ylabel("count")
    return _svg(figure)
