"""Schemas of the model registry: versions, the pointer to the one in force, promotions, jobs."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from triage.core.text import FreeText


class ModelStatus(StrEnum):
    CANDIDATE = "candidate"
    ACTIVE = "active"
    RETIRED = "retired"
    FAILED = "failed"


class Recipe(StrEnum):
    FROZEN = "frozen"
    """The frozen-encoder ensemble, searched in the embedder's own space (what bootstrap builds)."""
    TUNED = "tuned"
    """With the fine-tuned encoder member, and a retrieval space learnt from the history."""


class JobStatus(StrEnum):
    RUNNING = "running"
    PROMOTED = "promoted"
    REFUSED = "refused"
    REGISTERED = "registered"
    FAILED = "failed"


class ModelVersionRead(BaseModel):
    """One registered model version."""

    id: str = Field(description="The version's registry id.")
    created_at: datetime = Field(description="When it was registered (UTC).")
    created_by: str = Field(description="Who registered it (an API subject, cli:<user>, or system).")
    status: ModelStatus = Field(description="candidate, active (in force), retired or failed.")
    artifact_dir: str = Field(description="Its classifier artifact (relative paths are under TRIAGE_HOME).")
    classifier_version: str = Field(description="The artifact's content hash, as recorded in each case.")
    training_data_sha256: str | None = Field(description="SHA-256 of the rows it was trained on.")
    recipe: Recipe = Field(description="frozen (frozen-encoder ensemble) or tuned (fine-tuned encoder).")
    embedding_model: str = Field(description="The embedding model it reads texts with.")
    embedding_space: str | None = Field(description="The vector space of its history collection, if known.")
    collection: str = Field(description="The history collection searched for similar cases with it.")
    learnt_from: dict[str, Any] = Field(
        description="What it learnt from: history rows, feedback rows (human-confirmed cases), data file, sample."
    )
    training_metrics: dict[str, Any] | None = Field(description="Held-out figures from its own training.")
    evaluation: dict[str, Any] | None = Field(
        description="Its latest validation against the model then in force: both models' figures, the verdict."
    )
    note: str | None = Field(description="Why it failed, when it did.")


class ModelVersionPage(BaseModel):
    """One page of model versions, newest first."""

    items: list[ModelVersionRead] = Field(description="The versions on this page, newest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
    active_id: str | None = Field(description="The version in force.")
    previous_id: str | None = Field(description="The version a rollback would restore.")


class PromoteCreate(BaseModel):
    """Body of ``POST /v1/models/{id}/promote``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: FreeText = Field(
        min_length=1, max_length=2000, description="Why this version goes in force (audited)."
    )
    force: bool = Field(
        default=False,
        description="Promote even when validation finds it worse than the model in force (the reason says why).",
    )


class RollbackCreate(BaseModel):
    """Body of ``POST /v1/models/rollback``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: FreeText = Field(
        min_length=1, max_length=2000, description="Why the previous version comes back."
    )


class PointerRead(BaseModel):
    """Which version is in force."""

    active_id: str | None = Field(description="The version in force.")
    previous_id: str | None = Field(description="The version a rollback would restore.")
    generation: int = Field(description="Incremented by every promotion and rollback.")


class PromotionRead(BaseModel):
    """What a promotion or rollback did."""

    action: str = Field(description="promoted or rolled_back.")
    active: ModelVersionRead = Field(description="The version now in force.")
    replaced: ModelVersionRead | None = Field(description="The version it replaced.")
    forced: bool = Field(description="Whether validation was overridden (with a reason).")
    evaluation: dict[str, Any] | None = Field(description="The figures that decided it (promotion).")
    generation: int = Field(description="The pointer's generation after the change.")


class ModelJobRead(BaseModel):
    """A model job: a candidate trained (and maybe promoted) in the background."""

    id: str = Field(description="The job's id.")
    kind: str = Field(description="What the job does (background_tuning ...).")
    status: JobStatus = Field(description="running, promoted, registered, refused or failed.")
    base_version_id: str | None = Field(description="The version in force when it started.")
    candidate_version_id: str | None = Field(description="The candidate it registered, once it has.")
    step: str | None = Field(description="The step running now, or the last one.")
    progress: float = Field(description="Share of the steps done, 0 to 1.")
    detail: str | None = Field(description="What it found (figures, verdict) or is doing.")
    error: str | None = Field(description="Why it failed; the model in force stays.")
    created_at: datetime = Field(description="When it started.")
    updated_at: datetime = Field(description="Its last progress report.")
    finished_at: datetime | None = Field(description="When it ended.")
    pid: int | None = Field(description="Its process id, while it runs.")
    log_file: str | None = Field(description="Its log.")


class ModelJobPage(BaseModel):
    """Model jobs, newest first."""

    items: list[ModelJobRead] = Field(description="The jobs, newest first.")
