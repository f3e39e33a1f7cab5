"""The dashboard: the process measures of ``GET /v1/dashboard`` as numbers, tables and server-drawn charts."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.params import Parameter
from litestar.response import Template

from triage.domain.dependencies import DashboardServiceDep
from triage.domain.system.dashboard import MAX_DAYS, DashboardRead
from triage.ui import charts
from triage.ui.pages import page

WINDOWS = (7, 30, 90)


def chart_uris(read: DashboardRead) -> dict[str, str]:
    """Each chart of the page as an SVG ``data:`` URI."""
    first = read.since.date()
    days = [first + timedelta(days=n) for n in range((read.generated_at.date() - first).days + 1)]
    series: dict[str, list[int]] = {}
    for row in read.volume_by_day:
        counts = series.setdefault(row.category, [0] * len(days))
        index = (row.day - first).days
        if 0 <= index < len(days):
            counts[index] += row.count
    rates = read.override_rate_by_category
    return {
        "volume": charts.daily_stacked(days, series),
        "site": charts.bar_chart(
            [c.name for c in read.by_site], [c.count for c in read.by_site], xlabel="exceptions"
        ),
        "channel": charts.bar_chart(
            [c.name for c in read.by_channel], [c.count for c in read.by_channel], xlabel="exceptions"
        ),
        "aging": charts.bar_chart(
            [c.name for c in read.aging], [c.count for c in read.aging], xlabel="open items"
        ),
        "overrides": charts.bar_chart(
            [r.category for r in rates],
            [r.rate or 0.0 for r in rates],
            xlabel="cases corrected",
            percent=True,
        ),
    }


class DashboardPageController(Controller):
    include_in_schema = False

    @get("/dashboard")
    async def dashboard_page(
        self,
        request: Request[Any, Any, Any],
        dashboard_service: DashboardServiceDep,
        days: Annotated[int, Parameter(ge=1, le=MAX_DAYS)] = 30,
    ) -> Template:
        read = await asyncio.to_thread(dashboard_service.measures, days)
        uris = await asyncio.to_thread(chart_uris, read)
        return page(request, "dashboard.html", read=read, charts=uris, windows=WINDOWS)
