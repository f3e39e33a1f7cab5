"""Webhooks: subscriptions managed by admins, and the worker that delivers events to them.

Deliveries are signed per the Standard Webhooks specification (``webhook-id``, ``webhook-timestamp``,
``webhook-signature``) with the subscription's secret, and with the previous secret too during a rotation's
grace period. A failed delivery is retried with exponential backoff and jitter, then dead-lettered; admins
list and redeliver dead letters. The worker claims due deliveries with a lease (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL), so with many replicas each delivery is attempted by one replica at a time, and it sends outside
any database transaction, so a slow receiver never holds a lock a triage call needs.
"""

from __future__ import annotations

import base64
import ipaddress
import logging
import random
import secrets
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks import Webhook

from triage.core.actors import Actor
from triage.core.clock import Clock, utc_now
from triage.core.errors import InvalidInput, NotFound
from triage.db.engine import read_snapshot, unit_of_work
from triage.db.tables import DeliveryRow, EventRow, WebhookRow
from triage.domain.audit.schemas import AuditEntryCreate
from triage.domain.audit.services import AuditService
from triage.domain.events.schemas import (
    DeliveryRead,
    DeliveryStatus,
    EventType,
    WebhookCreate,
    WebhookRead,
    WebhookSecretRead,
)
from triage.domain.events.services import envelope

log = logging.getLogger("triage")


@dataclass(frozen=True)
class DeliveryPolicy:
    """How deliveries are made and retried (from settings)."""

    source: str
    allowed_networks: tuple[str, ...] = ()
    max_attempts: int = 8
    retry_base_s: float = 2.0
    retry_cap_s: float = 3600.0
    timeout_s: float = 5.0
    lease_s: float = 60.0
    batch: int = 20

    def backoff(self, attempts: int) -> timedelta:
        """Exponential backoff with full jitter in [50%, 100%] of the step, capped."""
        step = min(self.retry_cap_s, self.retry_base_s * 2 ** max(0, attempts - 1))
        return timedelta(seconds=step * random.uniform(0.5, 1.0))


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def check_target(url: str, allowed_networks: Sequence[str]) -> None:
    """Refuse URLs whose host resolves to a private, loopback, link-local or otherwise non-public address,
    unless it lies in ``allowed_networks`` (``TRIAGE_WEBHOOK_ALLOWED_NETWORKS``)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise InvalidInput("a webhook URL must be http(s)://host/...")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise InvalidInput(f"the webhook host {parts.hostname!r} does not resolve") from exc
    allowed = [ipaddress.ip_network(n, strict=False) for n in allowed_networks]
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if address.is_global or any(address in network for network in allowed):
            continue
        raise InvalidInput(
            f"the webhook host {parts.hostname!r} resolves to {address}, which is not a public address "
            "(allow it with TRIAGE_WEBHOOK_ALLOWED_NETWORKS)"
        )


def _read(row: WebhookRow) -> WebhookRead:
    return WebhookRead(
        webhook_id=row.webhook_id,
        url=row.url,
        types=[EventType(t) for t in row.types],
        created_at=row.created_at,
        created_by=row.created_by,
        disabled_at=row.disabled_at,
        previous_secret_valid_until=row.previous_valid_until,
    )


class WebhookService:
    """Subscriptions and dead letters, for admins; every change is audited in its own transaction."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        audit: AuditService,
        policy: DeliveryPolicy,
        *,
        clock: Clock = utc_now,
    ) -> None:
        self.sessions = sessions
        self.audit = audit
        self.policy = policy
        self.clock = clock

    def create(self, body: WebhookCreate, actor: Actor) -> WebhookSecretRead:
        url = str(body.url)
        check_target(url, self.policy.allowed_networks)
        row = WebhookRow(
            webhook_id=f"wh_{uuid.uuid4().hex[:16]}",
            url=url,
            types=sorted({t.value for t in body.types}),
            secret=new_secret(),
            created_at=self.clock(),
            created_by=actor.subject,
        )
        with unit_of_work(self.sessions) as session:
            session.add(row)
            self._audit(session, actor, "webhook.created", row, {"url": url, "types": row.types})
        return WebhookSecretRead(**_read(row).model_dump(), secret=row.secret)

    def subscriptions(self) -> list[WebhookRead]:
        with read_snapshot(self.sessions) as session:
            rows = session.execute(select(WebhookRow).order_by(WebhookRow.created_at)).scalars().all()
            return [_read(row) for row in rows]

    def disable(self, webhook_id: str, actor: Actor) -> WebhookRead:
        """Stop sending to a webhook (its pending deliveries stay listed; nothing new is queued for it)."""
        with unit_of_work(self.sessions) as session:
            row = self._get(session, webhook_id)
            if row.disabled_at is None:
                row.disabled_at = self.clock()
                self._audit(session, actor, "webhook.disabled", row, {})
            return _read(row)

    def rotate_secret(self, webhook_id: str, grace_s: int, actor: Actor) -> WebhookSecretRead:
        """A new secret; the old one also signs deliveries for ``grace_s`` seconds."""
        with unit_of_work(self.sessions) as session:
            row = self._get(session, webhook_id)
            row.previous_secret, row.secret = row.secret, new_secret()
            row.previous_valid_until = self.clock() + timedelta(seconds=grace_s)
            self._audit(session, actor, "webhook.secret_rotated", row, {"grace_s": grace_s})
            return WebhookSecretRead(**_read(row).model_dump(), secret=row.secret)

    def deliveries(
        self, status: DeliveryStatus | None, webhook_id: str | None, limit: int
    ) -> list[DeliveryRead]:
        statement = select(DeliveryRow, EventRow).join(EventRow, EventRow.seq == DeliveryRow.event_seq)
        if status is not None:
            statement = statement.where(DeliveryRow.status == status.value)
        if webhook_id is not None:
            statement = statement.where(DeliveryRow.webhook_id == webhook_id)
        statement = statement.order_by(DeliveryRow.delivery_id.desc()).limit(limit)
        with read_snapshot(self.sessions) as session:
            return [_delivery_read(d, e) for d, e in session.execute(statement).all()]

    def redeliver(self, delivery_id: int, actor: Actor) -> DeliveryRead:
        """Queue a dead-lettered (or delivered) delivery again, with a fresh set of attempts."""
        with unit_of_work(self.sessions) as session:
            delivery = session.get(DeliveryRow, delivery_id, with_for_update=True)
            if delivery is None:
                raise NotFound(f"no delivery {delivery_id}")
            delivery.status, delivery.attempts = DeliveryStatus.PENDING.value, 0
            delivery.next_attempt_at = self.clock()
            webhook = self._get(session, delivery.webhook_id)
            self._audit(session, actor, "webhook.redelivered", webhook, {"delivery_id": delivery_id})
            event = session.get(EventRow, delivery.event_seq)
            assert event is not None  # a foreign key keeps it
            return _delivery_read(delivery, event)

    @staticmethod
    def _get(session: Session, webhook_id: str) -> WebhookRow:
        row = session.get(WebhookRow, webhook_id, with_for_update=True)
        if row is None:
            raise NotFound(f"no webhook {webhook_id!r}")
        return row

    def _audit(
        self, session: Session, actor: Actor, action: str, row: WebhookRow, details: dict[str, object]
    ) -> None:
        self.audit.append(
            session, [AuditEntryCreate(action=action, actor=actor, outcome=row.webhook_id, details=details)]
        )


def _delivery_read(delivery: DeliveryRow, event: EventRow) -> DeliveryRead:
    return DeliveryRead(
        delivery_id=delivery.delivery_id,
        webhook_id=delivery.webhook_id,
        event_id=event.event_id,
        event_type=EventType(event.type),
        status=DeliveryStatus(delivery.status),
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at,
        last_status=delivery.last_status,
        last_error=delivery.last_error,
        delivered_at=delivery.delivered_at,
    )


@dataclass(frozen=True)
class Claimed:
    delivery_id: int
    attempts: int
    url: str
    secrets: tuple[str, ...]
    event_id: str
    body: str


class DeliveryWorker:
    """Sends due deliveries (run periodically by the app; safe with many replicas)."""

    def __init__(
        self, sessions: sessionmaker[Session], policy: DeliveryPolicy, *, clock: Clock = utc_now
    ) -> None:
        self.sessions = sessions
        self.policy = policy
        self.clock = clock

    def deliver_due(self) -> int:
        """Attempt every due delivery this replica can claim; the number delivered."""
        claimed = self._claim()
        if not claimed:
            return 0
        delivered = 0
        with httpx.Client(timeout=self.policy.timeout_s, follow_redirects=False, trust_env=False) as client:
            for item in claimed:
                status, error = self._send(client, item)
                self._settle(item, status, error)
                delivered += error is None
        return delivered

    def _claim(self) -> list[Claimed]:
        """Lease due deliveries to this replica: other replicas skip them until the lease runs out."""
        now = self.clock()
        with unit_of_work(self.sessions) as session:
            rows = session.execute(
                select(DeliveryRow, WebhookRow, EventRow)
                .join(WebhookRow, WebhookRow.webhook_id == DeliveryRow.webhook_id)
                .join(EventRow, EventRow.seq == DeliveryRow.event_seq)
                .where(
                    DeliveryRow.status == DeliveryStatus.PENDING.value,
                    DeliveryRow.next_attempt_at <= now,
                    WebhookRow.disabled_at.is_(None),
                )
                .order_by(DeliveryRow.event_seq, DeliveryRow.delivery_id)
                .limit(self.policy.batch)
                .with_for_update(skip_locked=True, of=DeliveryRow)
            ).all()
            lease_until = now + timedelta(seconds=self.policy.lease_s)
            claimed = []
            for delivery, webhook, event in rows:
                delivery.attempts += 1
                delivery.next_attempt_at = lease_until
                keys = [webhook.secret]
                if (
                    webhook.previous_secret
                    and webhook.previous_valid_until
                    and webhook.previous_valid_until > now
                ):
                    keys.append(webhook.previous_secret)
                body = envelope(event, self.policy.source).model_dump_json()
                claimed.append(
                    Claimed(
                        delivery.delivery_id,
                        delivery.attempts,
                        webhook.url,
                        tuple(keys),
                        event.event_id,
                        body,
                    )
                )
            return claimed

    def _send(self, client: httpx.Client, item: Claimed) -> tuple[int | None, str | None]:
        """POST one event; ``(http status, error)``, the error None on a 2xx."""
        try:
            check_target(item.url, self.policy.allowed_networks)  # the host may resolve elsewhere by now
        except InvalidInput as exc:
            return None, exc.detail
        now = self.clock()
        signatures = " ".join(Webhook(key).sign(item.event_id, now, item.body) for key in item.secrets)
        headers = {
            "content-type": "application/cloudevents+json",
            "webhook-id": item.event_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signatures,
        }
        try:
            response = client.post(item.url, content=item.body.encode(), headers=headers)
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:500]
        if 200 <= response.status_code < 300:
            return response.status_code, None
        return response.status_code, f"HTTP {response.status_code}"

    def _settle(self, item: Claimed, status: int | None, error: str | None) -> None:
        now = self.clock()
        values: dict[str, object] = {"last_status": status, "last_error": error}
        if error is None:
            values |= {"status": DeliveryStatus.DELIVERED.value, "delivered_at": now}
        elif item.attempts >= self.policy.max_attempts:
            values |= {"status": DeliveryStatus.DEAD.value}
            log.warning(
                "webhook delivery %s dead after %d attempts: %s", item.delivery_id, item.attempts, error
            )
        else:
            values |= {"next_attempt_at": now + self.policy.backoff(item.attempts)}
        with unit_of_work(self.sessions) as session:
            session.execute(
                update(DeliveryRow).where(DeliveryRow.delivery_id == item.delivery_id).values(**values)
            )
