"""Schemas of the system domain."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ReadinessRead(BaseModel):
    ready: bool
    error: str | None
    components: dict[str, Any]


class ModelRead(BaseModel):
    version: str
    embedding_model: str
    labels: list[str]
    metrics: dict[str, Any]
    calibration: dict[str, Any]
    recipe: Any = None
    trained_rows: int | None = None
    training_data_sha256: str | None = None
