"""The tables, as SQLAlchemy 2 typed declarative classes.

Only portable types: generic ``JSON`` (TEXT on SQLite, json on PostgreSQL), and ``UTCDateTime``, which stores
UTC on both backends and always hands back timezone-aware values. Migrations, not ``create_all``, build the
schema; these classes must match ``migrations/versions``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (which has no time zones) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetimes are refused: pass a timezone-aware value")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


def table_of(row: type[Base]) -> Table:
    """The Core table of a row class: for inserts and updates that need no ORM object per row."""
    return Base.metadata.tables[row.__tablename__]


class CaseRow(Base):
    __tablename__ = "cases"

    case_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), unique=True)
    body_hash: Mapped[str] = mapped_column(String(64))
    event: Mapped[dict[str, Any]]
    response: Mapped[dict[str, Any]]
    label: Mapped[str] = mapped_column(String(64), index=True)
    confidence: Mapped[float] = mapped_column(Float)
    severity: Mapped[str] = mapped_column(String(16))
    owner_team: Mapped[str] = mapped_column(String(64))
    team: Mapped[str] = mapped_column(String(64), index=True)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    order_id: Mapped[str] = mapped_column(String(64), index=True)
    site: Mapped[str] = mapped_column(String(64))
    order_value: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime]
    review_due_at: Mapped[datetime | None]
    escalation_role: Mapped[str | None] = mapped_column(String(32))
    escalated_at: Mapped[datetime | None]
    resolution_outcome: Mapped[str | None] = mapped_column(String(32))
    resolution_action: Mapped[str | None] = mapped_column(String(64))
    resolution_text: Mapped[str | None] = mapped_column(Text)
    hours_to_resolve: Mapped[float | None] = mapped_column(Float)
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime | None] = mapped_column(index=True)
    """When anything about the case last changed (status, an item, the resolution); set on every write."""
    customer_tier: Mapped[str] = mapped_column(String(16), default="standard")

    __table_args__ = (Index("ix_cases_created_at_case_id", "created_at", "case_id"),)


class ItemRow(Base):
    __tablename__ = "items"

    item_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.case_id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(128))
    action: Mapped[str | None] = mapped_column(String(64))
    original_text: Mapped[str | None] = mapped_column(Text)
    edited_text: Mapped[str | None] = mapped_column(Text)
    generator: Mapped[str | None] = mapped_column(String(32))
    risk: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32))
    requires_role: Mapped[str | None] = mapped_column(String(32))
    requires_team: Mapped[str | None] = mapped_column(String(64))
    four_eyes: Mapped[bool] = mapped_column(Boolean, default=False)
    findings: Mapped[list[Any]]
    reasons: Mapped[list[Any]]
    review_due_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    escalated_to: Mapped[str | None] = mapped_column(String(32))
    edited_by: Mapped[str | None] = mapped_column(String(128))
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_until: Mapped[datetime | None]
    """A claim hides the item from other reviewers until then (claims expire so no item is stuck)."""

    __table_args__ = (Index("ix_items_status_review_due_at", "status", "review_due_at"),)


class DecisionRow(Base):
    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.item_id"), index=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.case_id"), index=True)
    actor_subject: Mapped[str] = mapped_column(String(128))
    actor_role: Mapped[str] = mapped_column(String(32))
    decision: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    label_override: Mapped[str | None] = mapped_column(String(64))
    before_text: Mapped[str | None] = mapped_column(Text)
    after_text: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    acknowledged_findings: Mapped[list[Any] | None] = mapped_column(JSON)
    """Fact-check findings of an edited draft that the approver saw and accepted explicitly."""


class AuditLogRow(Base):
    """Append-only: the application never updates or deletes, and the database refuses it (see migrations)."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    actor_subject: Mapped[str] = mapped_column(String(128))
    actor_role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64), index=True)
    case_id: Mapped[str | None] = mapped_column(String(64), index=True)
    item_id: Mapped[str | None] = mapped_column(String(64))
    order_id: Mapped[str | None] = mapped_column(String(64), index=True)
    outcome: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    input_hash: Mapped[str | None] = mapped_column(String(64))
    model_version: Mapped[str | None] = mapped_column(String(128))
    prompt_version: Mapped[str | None] = mapped_column(String(128))
    policy_version: Mapped[str | None] = mapped_column(String(128))
    neighbour_ids: Mapped[list[Any] | None] = mapped_column(JSON)
    confidence: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(64))
    """HMAC of ``hash`` with the signing key: a rewrite with recomputed hashes fails at its first record."""


class AuditHeadRow(Base):
    """The one row naming the last record of the chain, signed; updated in the transaction of every append."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime | None]
    signature: Mapped[str | None] = mapped_column(String(64))


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(256))
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    role: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(128))
    teams: Mapped[list[Any]]
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class EventRow(Base):
    """The outbox: every change a client may hear about, written in the transaction of the change.

    ``seq`` is handed out under the lock of :class:`EventHeadRow`, so events commit in ``seq`` order and a
    reader paging by ``seq`` never skips one that commits later.
    """

    __tablename__ = "events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str | None] = mapped_column(String(64), index=True)
    time: Mapped[datetime]
    data: Mapped[dict[str, Any]]


class EventHeadRow(Base):
    """The one row holding the last event ``seq``; locked by every event write."""

    __tablename__ = "event_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)


class WebhookRow(Base):
    __tablename__ = "webhooks"

    webhook_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    types: Mapped[list[Any]]
    secret: Mapped[str] = mapped_column(String(128))
    previous_secret: Mapped[str | None] = mapped_column(String(128))
    previous_valid_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))
    disabled_at: Mapped[datetime | None]


class DeliveryRow(Base):
    """One event owed to one webhook: pending until delivered, dead-lettered after the last attempt."""

    __tablename__ = "webhook_deliveries"

    delivery_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhooks.webhook_id"), index=True)
    event_seq: Mapped[int] = mapped_column(ForeignKey("events.seq"))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_status: Mapped[int | None] = mapped_column(Integer)
    delivered_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_deliveries_due", "status", "next_attempt_at"),)


class ModelVersionRow(Base):
    """One registered model: its artifact, what it learnt from, how it scored, and where it stands."""

    __tablename__ = "model_versions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), index=True)
    """``candidate``, ``active``, ``retired`` or ``failed``."""
    artifact_dir: Mapped[str] = mapped_column(Text)
    """Relative paths are under ``TRIAGE_HOME`` (so a copied home keeps its models)."""
    classifier_version: Mapped[str] = mapped_column(String(128))
    training_data_sha256: Mapped[str | None] = mapped_column(String(64))
    recipe: Mapped[str] = mapped_column(String(16))
    embedding_model: Mapped[str] = mapped_column(String(256))
    embedding_space: Mapped[str | None] = mapped_column(String(256))
    collection: Mapped[str] = mapped_column(String(128))
    learnt_from: Mapped[dict[str, Any]]
    training_metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    evaluation: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """The latest validation against the model then in force (figures of both, the verdict)."""
    note: Mapped[str | None] = mapped_column(Text)


class ModelPointerRow(Base):
    """The one row naming the model in force; changed only by compare-and-swap on ``generation``.

    Also the lease of the background model job (one at a time across replicas)."""

    __tablename__ = "model_pointer"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    active_id: Mapped[str | None] = mapped_column(String(40))
    previous_id: Mapped[str | None] = mapped_column(String(40))
    generation: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[datetime | None]
    job_id: Mapped[str | None] = mapped_column(String(40))
    job_lease_until: Mapped[datetime | None]


class ModelJobRow(Base):
    """A model job (training a candidate in the background): its progress, outcome and error."""

    __tablename__ = "model_jobs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), index=True)
    base_version_id: Mapped[str | None] = mapped_column(String(40))
    candidate_version_id: Mapped[str | None] = mapped_column(String(40))
    step: Mapped[str | None] = mapped_column(String(128))
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    detail: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    pid: Mapped[int | None] = mapped_column(Integer)
    log_file: Mapped[str | None] = mapped_column(Text)
