"""HTTP surface of the dashboard: ``GET /v1/dashboard`` (supervisors, operations), and the dependency that the
desk's dashboard page shares with it."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from litestar import Controller, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.params import Dependency, Parameter

from triage.domain.system.dashboard import MAX_DAYS, DashboardRead, DashboardService


def provide_dashboard(state: State) -> DashboardService:
    """The ``dashboard_service`` dependency: stateless, over the started service's database sessions."""
    registry: Any = state["registry"]
    return DashboardService(registry.require().sessions)


DashboardServiceDep = Annotated[DashboardService, Dependency(skip_validation=True)]
"""``dashboard_service``"""
DASHBOARD_DEPENDENCIES = {"dashboard_service": Provide(provide_dashboard, sync_to_thread=False)}


class DashboardController(Controller):
    tags = ["system"]
    dependencies = DASHBOARD_DEPENDENCIES

    @get(
        "/v1/dashboard", summary="Process measures over the last `days` days (volume, aging, SLA, rework ...)"
    )
    async def dashboard(
        self,
        dashboard_service: DashboardServiceDep,
        days: Annotated[int, Parameter(ge=1, le=MAX_DAYS, description="the window, in days")] = 30,
    ) -> DashboardRead:
        return await asyncio.to_thread(dashboard_service.measures, days)
