"""Signed tree heads written outside the database (the app writes one periodically), pruned by age.

An attacker who can rewrite the whole ``audit_log`` table (and even roll its head row back to an older,
genuinely signed value) cannot also reach back into files written earlier: verification compares the chain
with every anchor. Anchors are Ed25519-signed, so anyone with the public key can check them. Point
``TRIAGE_HOME``'s ``audit-anchors`` at write-once storage in production (with a retention that allows the
pruning of anchors older than ``TRIAGE_AUDIT_ANCHOR_RETENTION_DAYS``).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from triage.domain.audit.schemas import AnchorRead, SignedTreeHead

Anchor = SignedTreeHead | AnchorRead
"""A signed tree head, or a legacy anchor (the chain head signed with the HMAC key)."""


def anchor_size(anchor: Anchor) -> int:
    """How many records the anchor saw."""
    return anchor.tree_size if isinstance(anchor, SignedTreeHead) else anchor.seq


def _parse(text: str) -> Anchor:
    raw = json.loads(text)
    try:
        return SignedTreeHead.model_validate(raw)
    except ValidationError:
        return AnchorRead.model_validate(raw)


class AnchorStore:
    """Anchor files ``anchor-<size>.json`` in one directory, written atomically, never rewritten."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def write(self, anchor: SignedTreeHead) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"anchor-{anchor.tree_size:012d}.json"
        if path.exists():
            return path
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".anchor-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(anchor.model_dump_json())
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
        return path

    def load(self) -> list[tuple[Path, Anchor | None]]:
        """Every anchor in size order; ``None`` for a file that is not a readable anchor."""
        if not self.directory.is_dir():
            return []
        found: list[tuple[Path, Anchor | None]] = []
        for path in sorted(self.directory.glob("anchor-*.json")):
            try:
                found.append((path, _parse(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError, ValidationError):
                found.append((path, None))
        return found

    def latest(self) -> Anchor | None:
        anchors = [anchor for _, anchor in self.load() if anchor is not None]
        return max(anchors, key=anchor_size, default=None)

    def prune(self, before: datetime) -> list[Path]:
        """Delete the anchors signed before ``before``, always keeping the newest one (a quiet log keeps
        its last anchor). Unreadable files are kept: they are evidence."""
        readable = [(path, anchor) for path, anchor in self.load() if anchor is not None]
        if not readable:
            return []
        newest = max(readable, key=lambda found: anchor_size(found[1]))[0]
        pruned = [path for path, anchor in readable if path != newest and anchor.at < before]
        for path in pruned:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        return pruned
