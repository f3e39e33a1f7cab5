"""Who acts: an authenticated subject with one role, or the system itself."""

from __future__ import annotations

import getpass
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

    @classmethod
    def operator(cls, role: Role | None = None) -> Actor:
        """The person running a CLI command, by their login (``cli:<user>``), as the audit log names them."""
        try:
            user = getpass.getuser()
        except (OSError, KeyError):
            user = "unknown"
        return cls(subject=f"cli:{user}", role=role)

    @property
    def is_system(self) -> bool:
        return self.role is None and self.subject == "system"

    @property
    def role_name(self) -> str:
        return self.role.value if self.role else "system"
