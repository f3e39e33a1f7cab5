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
    items: list[EventRead]
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
    webhook_id: str
    url: str
    types: list[EventType]
    created_at: datetime
    created_by: str
    disabled_at: datetime | None = None
    previous_secret_valid_until: datetime | None = Field(
        default=None, description="Until then deliveries carry a signature with the previous secret too."
    )


class WebhookSecretRead(WebhookRead):
    secret: str = Field(description="The signing secret (Standard Webhooks, whsec_...): shown only once.")


class DeliveryRead(BaseModel):
    delivery_id: int
    webhook_id: str
    event_id: str
    event_type: EventType
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    delivered_at: datetime | None
