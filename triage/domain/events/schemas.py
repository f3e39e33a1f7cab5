"""Schemas of the events domain: the CloudEvents envelope, the feed page, webhooks and deliveries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, HttpUrl


class EventType(StrEnum):
    """Every event the service emits (the CloudEvents ``type``)."""

    CASE_TRIAGED = "case.triaged"
    CASE_STATUS_CHANGED = "case.status_changed"
    CASE_RESOLVED = "case.resolved"
    CASE_RELABELLED = "case.relabelled"
    ITEM_APPROVED = "item.approved"
    ITEM_EDITED = "item.edited"
    ITEM_REJECTED = "item.rejected"
    REVIEW_CLAIMED = "review.claimed"
    REVIEW_ESCALATED = "review.escalated"
    MODEL_PROMOTED = "model.promoted"
    POLICY_CHANGED = "policy.changed"


class DeliveryStatus(StrEnum):
    """Where a webhook delivery stands: waiting to be (re)tried, delivered, or given up on."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


@dataclass(frozen=True)
class EventCreate:
    """One event to write in the transaction of the change it reports."""

    type: EventType
    subject: str | None
    """The case id, when the event is about a case (events of one case are ordered by ``sequence``)."""
    data: dict[str, Any] = field(default_factory=dict)


class EventRead(BaseModel):
    """A CloudEvents 1.0 event in its JSON format."""

    specversion: str = Field(description="Always 1.0.")
    id: str = Field(
        description="Stable identifier: the same event always has the same id (de-duplicate on it)."
    )
    source: str = Field(description="This service (TRIAGE_EVENT_SOURCE).")
    type: EventType = Field(description="What happened.")
    subject: str | None = Field(default=None, description="The case id, for events about a case.")
    time: datetime = Field(description="When it happened (UTC).")
    datacontenttype: str = Field(description="Always application/json.")
    sequence: str = Field(description="Position in the feed; orders the events of a case (and of all cases).")
    data: dict[str, Any] = Field(description="The event's facts; see the README for each type.")


class EventPage(BaseModel):
    """One page of the event feed, in feed order."""

    items: list[EventRead] = Field(description="The events after the cursor, oldest first.")
    next_cursor: str = Field(description="Pass as `after` to get the events after these (also when empty).")


class WebhookCreate(BaseModel):
    """Body of ``POST /v1/webhooks``."""

    model_config = ConfigDict(extra="forbid")

    url: HttpUrl = Field(
        description="Where events are POSTed; private addresses need TRIAGE_WEBHOOK_ALLOWED_NETWORKS."
    )
    types: list[EventType] = Field(
        default_factory=list, max_length=len(EventType), description="Event types to send; empty means all."
    )


class SecretRotate(BaseModel):
    """Body of ``POST /v1/webhooks/{id}/rotate-secret``."""

    model_config = ConfigDict(extra="forbid")

    grace_s: int = Field(
        default=24 * 3600,
        ge=0,
        le=30 * 24 * 3600,
        description="How long the old secret also signs deliveries.",
    )


class WebhookRead(BaseModel):
    """A webhook subscription (without its secret)."""

    webhook_id: str = Field(description="The webhook's id.")
    url: str = Field(description="Where events are POSTed.")
    types: list[EventType] = Field(description="Event types sent; empty means all.")
    created_at: datetime = Field(description="When the webhook was created.")
    created_by: str = Field(description="Who created it (the API key's subject).")
    disabled_at: datetime | None = Field(
        default=None, description="When it was disabled (no more deliveries); null while active."
    )
    previous_secret_valid_until: datetime | None = Field(
        default=None, description="Until then deliveries carry a signature with the previous secret too."
    )


class WebhookSecretRead(WebhookRead):
    """A webhook with its signing secret: answered once, when it is created or its secret rotated."""

    secret: str = Field(description="The signing secret (Standard Webhooks, whsec_...): shown only once.")


class DeliveryRead(BaseModel):
    """One event's delivery to one webhook, with its retries."""

    delivery_id: int = Field(description="The delivery's id.")
    webhook_id: str = Field(description="The webhook it goes to.")
    event_id: str = Field(description="The event delivered (EventRead.id).")
    event_type: EventType = Field(description="The event's type.")
    status: DeliveryStatus = Field(
        description="pending (to be tried or retried), delivered, or dead (given up)."
    )
    attempts: int = Field(description="Attempts made so far.")
    next_attempt_at: datetime = Field(description="When it is (or was last) due to be tried.")
    last_status: int | None = Field(
        description="The HTTP status of the last attempt; null when none was received."
    )
    last_error: str | None = Field(
        description="Why the last attempt failed; null when it succeeded or none was made."
    )
    delivered_at: datetime | None = Field(description="When it was delivered; null until then.")
