"""Charts drawn on the server with matplotlib, as SVG images the pages inline (``data:`` URIs), so the
dashboard reads without JavaScript; every chart sits beside a table with the same numbers.

matplotlib is imported when the first chart is drawn (it is slow to import), and only its object API is
used (no pyplot state); rendering holds a lock because ``rc_context`` is process-wide.
"""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000", "#999999")
"""Okabe and Ito's palette: told apart with every common colour-vision deficiency."""
INK = "#1b1f24"
_LOCK = threading.Lock()


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return figure, figure.add_subplot()


def _style(axes: Any) -> None:
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.tick_params(colors=INK, labelsize=9)
    axes.yaxis.label.set_color(INK)
    axes.xaxis.label.set_color(INK)


def _svg_uri(figure: Any) -> str:
    import matplotlib

    buffer = io.BytesIO()
    with _LOCK, matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "triage"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def bar_chart(names: Sequence[str], values: Sequence[float], *, xlabel: str, percent: bool = False) -> str:
    """Horizontal bars, largest first as given; an SVG ``data:`` URI."""
    height = 0.6 + 0.32 * max(1, len(names))
    figure, axes = _figure(6.4, height)
    positions = list(range(len(names)))
    axes.barh(positions, values, color=PALETTE[0])
    axes.set_yticks(positions, [name.replace("_", " ") for name in names])
    axes.invert_yaxis()
    axes.set_xlabel(xlabel)
    if percent:
        axes.xaxis.set_major_formatter(lambda value, _: f"{value:.0%}")
        axes.set_xlim(0, max(1.0, *values) if values else 1.0)
    for position, value in zip(positions, values, strict=True):
        axes.annotate(
            f"{value:.0%}" if percent else f"{value:g}",
            (value, position),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
            color=INK,
        )
    _style(axes)
    return _svg_uri(figure)


def daily_stacked(days: Sequence[date], series: Mapping[str, Sequence[int]]) -> str:
    """Exceptions per day, stacked by category; an SVG ``data:`` URI."""
    figure, axes = _figure(6.4, 3.0)
    bottom = [0] * len(days)
    for index, (name, counts) in enumerate(series.items()):
        axes.bar(
            days, counts, bottom=bottom, label=name.replace("_", " "), color=PALETTE[index % len(PALETTE)]
        )
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    axes.set_ylabel("exceptions")
    axes.yaxis.get_major_locator().set_params(integer=True)
    figure.autofmt_xdate()
    if series:
        axes.legend(fontsize=7, frameon=False, loc="upper left", ncols=2)
    _style(axes)
    return _svg_uri(figure)
