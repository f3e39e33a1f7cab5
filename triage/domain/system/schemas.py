"""Schemas of the system domain."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from triage.core.errors import UpstreamUnavailable
from triage.domain.system.runtime import Runtime


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

    @classmethod
    def from_runtime(cls, runtime: Runtime) -> ModelRead:
        if runtime.classifier is None:
            raise UpstreamUnavailable("the model is not loaded yet")
        meta = runtime.classifier.metadata
        return cls(
            version=runtime.classifier.version,
            embedding_model=runtime.classifier.embedding_model_id,
            labels=list(runtime.classifier.labels),
            metrics=meta.get("metrics", {}),
            calibration=meta.get("calibration", {}),
            recipe=meta.get("recipe"),
            trained_rows=meta.get("rows"),
            training_data_sha256=meta.get("training_data_sha256"),
        )


class PolicyRead(BaseModel):
    version: str
    file: str
    policy: dict[str, Any]

    @classmethod
    def from_runtime(cls, runtime: Runtime) -> PolicyRead:
        if runtime.policies is None:
            raise UpstreamUnavailable("the policy is not loaded yet")
        current = runtime.policies.current
        return cls(
            version=current.version_hash,
            file=str(runtime.settings.policy_file),
            policy=current.model_dump(mode="json", exclude={"version_hash"}),
        )
