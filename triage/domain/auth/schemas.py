"""Schemas of the auth domain: API key creation input, what is shown once, and the stored record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from triage.core.actors import Role

Subject = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$"),
]
TeamName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
    ),
]


class ApiKeyCreate(BaseModel):
    """What ``triage keys create`` takes: a role, the person or system the key belongs to, and their teams."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Role
    subject: Subject
    teams: tuple[TeamName, ...] = Field(default=(), max_length=32)


class ApiKeyCreated(BaseModel):
    """The result of creating a key. ``key`` is the secret: shown once, never stored, never retrievable."""

    model_config = ConfigDict(frozen=True)

    key_id: str
    key: str
    prefix: str
    role: Role
    subject: str
    teams: tuple[str, ...]


class ApiKeyRead(BaseModel):
    """A stored key as an operator may see it (no secret, no hash)."""

    model_config = ConfigDict(frozen=True)

    key_id: str
    prefix: str
    role: Role
    subject: str
    teams: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class ApiKeyRecord:
    """One row of the ``api_keys`` table as the repository hands it to the service."""

    key_id: str
    key_hash: str
    prefix: str
    role: str
    subject: str
    teams: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None

    def to_read(self) -> ApiKeyRead:
        return ApiKeyRead(
            key_id=self.key_id,
            prefix=self.prefix,
            role=Role(self.role),
            subject=self.subject,
            teams=self.teams,
            created_at=self.created_at,
            revoked_at=self.revoked_at,
        )
