"""Review claims (who works an item, until when), the customer tier on cases (queue order), the findings a
reviewer acknowledged when approving an edit.

Revision ID: 0005_claims_and_desk
Revises: 0004_events_and_webhooks
Create Date: 2026-11-28
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from triage.db.tables import UTCDateTime

revision = "0005_claims_and_desk"
down_revision = "0004_events_and_webhooks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(128), nullable=True))
        batch.add_column(sa.Column("claimed_until", UTCDateTime(), nullable=True))
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("customer_tier", sa.String(16), nullable=False, server_default="standard"))
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("acknowledged_findings", sa.JSON(), nullable=True))
    connection = op.get_bind()
    cases = sa.table(
        "cases", sa.column("case_id", sa.String), sa.column("event", sa.JSON), sa.column("customer_tier")
    )
    for case_id, event in connection.execute(sa.select(cases.c.case_id, cases.c.event)).all():
        data = json.loads(event) if isinstance(event, str) else event
        tier = ((data or {}).get("order") or {}).get("customer_tier") or "standard"
        connection.execute(cases.update().where(cases.c.case_id == case_id).values(customer_tier=tier))


def downgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("acknowledged_findings")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("customer_tier")
    with op.batch_alter_table("items") as batch:
        batch.drop_column("claimed_until")
        batch.drop_column("claimed_by")
