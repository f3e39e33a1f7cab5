"""Schemas of the system domain."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ReadinessRead(BaseModel):
    """Whether the service can take work, and the health of each part it needs."""

    ready: bool = Field(description="True when every part started and the service takes requests.")
    error: str | None = Field(description="Why start-up failed; null when it did not.")
    components: dict[str, Any] = Field(
        description="Each part (model, database, policy, case_store, drafting) with `ok` and its details."
    )


class ModelRead(BaseModel):
    """The classifier in force: its version, what it was trained on and how well it did."""

    id: str | None = Field(default=None, description="The registry id of the model version in force.")
    collection: str | None = Field(default=None, description="The history collection searched with it.")
    version: str = Field(description="The classifier's version (as recorded in each case's versions).")
    embedding_model: str = Field(description="The embedding model it reads texts with.")
    labels: list[str] = Field(description="The categories it chooses from.")
    metrics: dict[str, Any] = Field(
        description="Cross-validated scores from training (accuracy, macro_f1, ece ... under `cv`)."
    )
    calibration: dict[str, Any] = Field(
        description="How its scores become confidences (temperature, member weights)."
    )
    recipe: Any = Field(default=None, description="How it was trained; null when not recorded.")
    trained_rows: int | None = Field(default=None, description="Training rows used; null when not recorded.")
    training_data_sha256: str | None = Field(
        default=None, description="SHA-256 of the training data; null when not recorded."
    )
