"""Signed copies of the chain head written outside the database, and the loop that writes them.

An attacker who can rewrite the whole ``audit_log`` table (and even roll its head row back to an older,
genuinely signed value) cannot also reach back into files written earlier: verification compares the chain
with every anchor. Point ``TRIAGE_HOME``'s ``audit-anchors`` at write-once storage in production.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from pydantic import ValidationError

from triage.domain.audit.schemas import AnchorRead

logger = logging.getLogger(__name__)


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


class Anchoring(Protocol):
    def anchor(self) -> AnchorRead | None: ...


async def run_anchor_loop(
    audit: Anchoring, interval_s: float, stop: asyncio.Event, *, on_error: Callable[[str], None] | None = None
) -> None:
    """Write an anchor every ``interval_s`` seconds until ``stop`` is set (started by the app's lifespan)."""
    while not stop.is_set():
        try:
            await asyncio.to_thread(audit.anchor)
        except Exception as exc:  # noqa: BLE001 - the loop must survive a transient failure; it is logged
            logger.warning("audit anchor failed: %s", exc)
            if on_error is not None:
                on_error(str(exc))
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
        except TimeoutError:
            continue
