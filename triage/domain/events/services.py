"""``EventOutbox``: the one writer of events, in the transaction of each change, and the pull feed over them.

Every event also becomes a pending delivery for each active webhook that wants its type (same transaction),
so a change that commits is always heard, and one that rolls back never is.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from triage.core.clock import Clock, utc_now
from triage.core.paging import clamp_limit, decode_cursor, encode_cursor
from triage.db.engine import read_snapshot
from triage.db.tables import DeliveryRow, EventHeadRow, EventRow, WebhookRow, table_of
from triage.domain.events.schemas import DeliveryStatus, EventCreate, EventPage, EventRead, EventType

MAX_EVENT_PAGE = 500
_FORMAT = JSONFormat()


def envelope(row: EventRow, source: str) -> EventRead:
    """The CloudEvents 1.0 JSON form of a stored event (built and validated by the CloudEvents SDK)."""
    attributes = {
        "id": row.event_id,
        "source": source,
        "type": row.type,
        "subject": row.subject,
        "time": row.time,
        "datacontenttype": "application/json",
        "sequence": str(row.seq),
    }
    # an event about no one case (policy.changed) has no subject: the SDK refuses a None attribute
    event = CloudEvent({k: v for k, v in attributes.items() if v is not None}, row.data)
    return EventRead.model_validate(json.loads(_FORMAT.write(event)))


def wants(types: list[Any] | None, event_type: str) -> bool:
    """Whether a webhook subscribed to ``types`` (all when empty) gets events of ``event_type``."""
    return not types or event_type in types


class EventOutbox:
    def __init__(self, sessions: sessionmaker[Session], source: str, *, clock: Clock = utc_now) -> None:
        self.sessions = sessions
        self.source = source
        self.clock = clock

    def append(self, session: Session, events: Sequence[EventCreate]) -> list[int]:
        """Write ``events`` inside the caller's transaction (they commit or roll back with the change); the
        head row's lock orders them, so events commit in ``sequence`` order. Returns their sequence numbers."""
        if not events:
            return []
        # Column reads and Core writes: no ORM object, identity map or unit-of-work step per row.
        seq = session.execute(
            select(EventHeadRow.seq).where(EventHeadRow.id == 1).with_for_update()
        ).scalar_one()
        webhooks = session.execute(
            select(WebhookRow.webhook_id, WebhookRow.types).where(WebhookRow.disabled_at.is_(None))
        ).all()
        now = self.clock()
        rows: list[dict[str, Any]] = []
        deliveries: list[dict[str, Any]] = []
        for event in events:
            seq += 1
            rows.append(
                {
                    "seq": seq,
                    "event_id": f"evt_{uuid.uuid4().hex}",
                    "type": event.type.value,
                    "subject": event.subject,
                    "time": now,
                    "data": _plain(event.data),
                }
            )
            deliveries += [
                {
                    "webhook_id": webhook_id,
                    "event_seq": seq,
                    "status": DeliveryStatus.PENDING.value,
                    "attempts": 0,
                    "next_attempt_at": now,
                }
                for webhook_id, types in webhooks
                if wants(types, event.type)
            ]
        session.execute(insert(table_of(EventRow)), rows)
        if deliveries:
            session.execute(insert(table_of(DeliveryRow)), deliveries)
        session.execute(
            update(table_of(EventHeadRow)).where(table_of(EventHeadRow).c.id == 1).values(seq=seq)
        )
        return [row["seq"] for row in rows]

    def feed(self, after: str | None, types: Sequence[EventType] = (), limit: int = 100) -> EventPage:
        """Events after the cursor ``after`` (the start when None), oldest first, of ``types`` (all if empty)."""
        last = decode_cursor(after, int)[0] if after else 0
        limit = clamp_limit(limit, MAX_EVENT_PAGE)
        statement = select(EventRow).where(EventRow.seq > last).order_by(EventRow.seq).limit(limit)
        if types:
            statement = statement.where(EventRow.type.in_([t.value for t in types]))
        with read_snapshot(self.sessions) as session:
            rows = session.execute(statement).scalars().all()
            head = session.execute(select(EventHeadRow.seq).where(EventHeadRow.id == 1)).scalar_one()
            items = [envelope(row, self.source) for row in rows]
        # With a type filter the page may skip events of other types: the cursor moves past them too, but
        # never past the last event that existed when this page was read.
        position = int(items[-1].sequence) if len(items) == limit else max(last, head)
        return EventPage(items=items, next_cursor=encode_cursor(position))


def _plain(value: Any) -> dict[str, Any]:
    """The data exactly as it will read back from a JSON column (datetimes as ISO strings ...)."""
    plain: dict[str, Any] = json.loads(json.dumps(value, default=_json_default))
    return plain


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
