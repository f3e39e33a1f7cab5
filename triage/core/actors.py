"""Who acts: an authenticated subject with one role, or the system itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    WORKFLOW = "workflow"
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    COMPLIANCE = "compliance"
    ADMIN = "admin"


@dataclass(frozen=True)
class Actor:
    subject: str
    role: Role | None
    teams: tuple[str, ...] = field(default_factory=tuple)
    key_id: str | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls(subject="system", role=None)

    @property
    def is_system(self) -> bool:
        return self.role is None and self.subject == "system"

    @property
    def role_name(self) -> str:
        return self.role.value if self.role else "system"
