"""HTTP surface of the events domain: the pull feed (with long-poll) and webhook administration."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from litestar import Controller, get, post
from litestar.params import Parameter

from triage.core.paging import INT64_MAX
from triage.domain.dependencies import CurrentActor, EventOutboxDep, WebhookServiceDep
from triage.domain.events.schemas import (
    DeliveryRead,
    DeliveryStatus,
    EventPage,
    EventType,
    SecretRotate,
    WebhookCreate,
    WebhookRead,
    WebhookSecretRead,
)
from triage.domain.events.services import MAX_EVENT_PAGE

LONG_POLL_STEP_S = 0.5


class EventController(Controller):
    tags = ["events"]

    @get("/v1/events", summary="Events after a cursor, oldest first; optionally wait for the next ones")
    async def feed(
        self,
        event_outbox: EventOutboxDep,
        after: Annotated[
            str | None, Parameter(description="next_cursor of the previous page; absent: the start")
        ] = None,
        types: Annotated[list[EventType] | None, Parameter(description="only these event types")] = None,
        limit: Annotated[int, Parameter(ge=1, le=MAX_EVENT_PAGE)] = 100,
        wait: Annotated[int, Parameter(ge=0, le=30, description="seconds to wait when nothing is new")] = 0,
    ) -> EventPage:
        deadline = time.monotonic() + wait
        while True:
            page = await asyncio.to_thread(event_outbox.feed, after, types or (), limit)
            if page.items or time.monotonic() >= deadline:
                return page
            await asyncio.sleep(LONG_POLL_STEP_S)


class WebhookController(Controller):
    tags = ["webhooks"]
    path = "/v1/webhooks"

    @post("/", summary="Subscribe a URL to events (the signing secret is shown once)", status_code=201)
    async def create(
        self, data: WebhookCreate, caller: CurrentActor, webhook_service: WebhookServiceDep
    ) -> WebhookSecretRead:
        return await asyncio.to_thread(webhook_service.create, data, caller)

    @get("/", summary="The webhook subscriptions")
    async def list_webhooks(self, webhook_service: WebhookServiceDep) -> list[WebhookRead]:
        return await asyncio.to_thread(webhook_service.subscriptions)

    @post("/{webhook_id:str}/disable", summary="Stop sending to a webhook (audited)", status_code=200)
    async def disable(
        self, webhook_id: str, caller: CurrentActor, webhook_service: WebhookServiceDep
    ) -> WebhookRead:
        return await asyncio.to_thread(webhook_service.disable, webhook_id, caller)

    @post(
        "/{webhook_id:str}/rotate-secret",
        summary="A new signing secret; the old one stays valid for the grace period",
        status_code=200,
    )
    async def rotate_secret(
        self, webhook_id: str, data: SecretRotate, caller: CurrentActor, webhook_service: WebhookServiceDep
    ) -> WebhookSecretRead:
        return await asyncio.to_thread(webhook_service.rotate_secret, webhook_id, data.grace_s, caller)

    @get("/deliveries", summary="Deliveries, newest first (status=dead: the dead letters)")
    async def deliveries(
        self,
        webhook_service: WebhookServiceDep,
        status: DeliveryStatus | None = None,
        webhook_id: str | None = None,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
    ) -> list[DeliveryRead]:
        return await asyncio.to_thread(webhook_service.deliveries, status, webhook_id, limit)

    @post(
        "/deliveries/{delivery_id:int}/redeliver", summary="Queue a delivery again (audited)", status_code=200
    )
    async def redeliver(
        self,
        delivery_id: Annotated[int, Parameter(ge=1, le=INT64_MAX)],
        caller: CurrentActor,
        webhook_service: WebhookServiceDep,
    ) -> DeliveryRead:
        return await asyncio.to_thread(webhook_service.redeliver, delivery_id, caller)
