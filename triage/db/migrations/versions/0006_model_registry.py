"""The model registry: registered versions, the pointer to the one in force (compare-and-swap), model jobs.

Revision ID: 0006_model_registry
Revises: 0005_claims_and_desk
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from triage.db.tables import UTCDateTime

revision = "0006_model_registry"
down_revision = "0005_claims_and_desk"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("artifact_dir", sa.Text(), nullable=False),
        sa.Column("classifier_version", sa.String(128), nullable=False),
        sa.Column("training_data_sha256", sa.String(64), nullable=True),
        sa.Column("recipe", sa.String(16), nullable=False),
        sa.Column("embedding_model", sa.String(256), nullable=False),
        sa.Column("embedding_space", sa.String(256), nullable=True),
        sa.Column("collection", sa.String(128), nullable=False),
        sa.Column("learnt_from", sa.JSON(), nullable=False),
        sa.Column("training_metrics", sa.JSON(), nullable=True),
        sa.Column("evaluation", sa.JSON(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
    )
    op.create_index("ix_model_versions_status", "model_versions", ["status"])
    pointer = op.create_table(
        "model_pointer",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("active_id", sa.String(40), nullable=True),
        sa.Column("previous_id", sa.String(40), nullable=True),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("changed_at", UTCDateTime(), nullable=True),
        sa.Column("job_id", sa.String(40), nullable=True),
        sa.Column("job_lease_until", UTCDateTime(), nullable=True),
    )
    op.bulk_insert(pointer, [{"id": 1, "generation": 0}])
    op.create_table(
        "model_jobs",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("base_version_id", sa.String(40), nullable=True),
        sa.Column("candidate_version_id", sa.String(40), nullable=True),
        sa.Column("step", sa.String(128), nullable=True),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("log_file", sa.Text(), nullable=True),
    )
    op.create_index("ix_model_jobs_status", "model_jobs", ["status"])


def downgrade() -> None:
    op.drop_index("ix_model_jobs_status", "model_jobs")
    op.drop_table("model_jobs")
    op.drop_table("model_pointer")
    op.drop_index("ix_model_versions_status", "model_versions")
    op.drop_table("model_versions")
