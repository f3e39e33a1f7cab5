"""Schemas of the policy domain."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class PolicyRead(BaseModel):
    """The policy the gate follows."""

    version: str = Field(description="SHA-256 of the validated policy: the same rules give the same version.")
    file: str = Field(description="The policy file the service follows.")
    policy: dict[str, Any] = Field(description="The policy in force, as validated.")
