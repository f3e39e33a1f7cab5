"""Signed copies of the chain head written outside the database (the app writes one periodically).

An attacker who can rewrite the whole ``audit_log`` table (and even roll its head row back to an older,
genuinely signed value) cannot also reach back into files written earlier: verification compares the chain
with every anchor. Point ``TRIAGE_HOME``'s ``audit-anchors`` at write-once storage in production.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from pydantic import ValidationError

from triage.domain.audit.schemas import AnchorRead


class AnchorStore:
    """Anchor files ``anchor-<seq>.json`` in one directory, written atomically, never rewritten."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def write(self, anchor: AnchorRead) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"anchor-{anchor.seq:012d}.json"
        if path.exists():
            return path
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".anchor-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(anchor.model_dump_json())
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
        return path

    def load(self) -> list[tuple[Path, AnchorRead | None]]:
        """Every anchor in sequence order; ``None`` for a file that is not a readable anchor."""
        if not self.directory.is_dir():
            return []
        found: list[tuple[Path, AnchorRead | None]] = []
        for path in sorted(self.directory.glob("anchor-*.json")):
            try:
                found.append((path, AnchorRead.model_validate(json.loads(path.read_text(encoding="utf-8")))))
            except (OSError, ValueError, ValidationError):
                found.append((path, None))
        return found

    def latest(self) -> AnchorRead | None:
        anchors = [anchor for _, anchor in self.load() if anchor is not None]
        return max(anchors, key=lambda a: a.seq, default=None)
