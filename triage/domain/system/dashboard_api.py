"""HTTP surface of the dashboard: ``GET /v1/dashboard`` (supervisors, operations)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from litestar import Controller, get
from litestar.params import Parameter

from triage.domain.dependencies import DashboardServiceDep
from triage.domain.system.dashboard import MAX_DAYS, DashboardRead


class DashboardController(Controller):
    tags = ["system"]

    @get(
        "/v1/dashboard", summary="Process measures over the last `days` days (volume, aging, SLA, rework ...)"
    )
    async def dashboard(
        self,
        dashboard_service: DashboardServiceDep,
        days: Annotated[int, Parameter(ge=1, le=MAX_DAYS, description="the window, in days")] = 30,
    ) -> DashboardRead:
        return await asyncio.to_thread(dashboard_service.measures, days)
