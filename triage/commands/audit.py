"""``triage audit verify`` and ``triage audit export``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from sqlalchemy import Engine

from triage.config import Settings, get_settings
from triage.core.errors import TriageError
from triage.db.engine import create_db_engine, create_session_factory
from triage.domain.audit.anchors import AnchorStore
from triage.domain.audit.schemas import ExportFormat, VerifyRead
from triage.domain.audit.services import AuditService, verify_export

EXIT_OK = 0
EXIT_TAMPERED = 1
EXIT_UNAVAILABLE = 2


def _service(settings: Settings) -> tuple[AuditService, Engine]:
    engine = create_db_engine(settings.resolved_database_url)
    service = AuditService(
        create_session_factory(engine), settings.audit_signing_key, AnchorStore(settings.audit_anchor_dir)
    )
    return service, engine


def _report(result: VerifyRead, what: str) -> int:
    if result.ok:
        print(
            f"{what} intact: {result.checked} records checked, head at {result.head_seq}, "
            f"{result.anchors_checked} anchors checked"
        )
        return EXIT_OK
    print(
        f"{what} NOT intact: first bad record seq={result.first_bad_seq}: {result.problem} "
        f"({result.checked} records verified before it)",
        file=sys.stderr,
    )
    return EXIT_TAMPERED


def run_audit_verify(args: argparse.Namespace) -> int:
    """Exit 0 when the log (or the JSONL export given as ``args.export``) is intact; 1 naming the first bad
    sequence number when not; 2 when the database cannot be read."""
    settings = get_settings()
    export: Path | None = getattr(args, "export", None)
    if export is not None:
        with Path(export).open(encoding="utf-8") as handle:
            service, engine = _service(settings)
            try:
                return _report(verify_export(handle, service.signer), f"audit export {export}")
            finally:
                engine.dispose()
    service, engine = _service(settings)
    try:
        return _report(service.verify(), "audit log")
    except TriageError as exc:
        print(f"audit log could not be verified: {exc.detail}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    finally:
        engine.dispose()


def run_audit_export(args: argparse.Namespace) -> int:
    """Write the log as JSONL or CSV (``args.format``) to ``args.out`` (a path, or stdout when absent/"-")."""
    settings = get_settings()
    fmt: ExportFormat = "csv" if getattr(args, "format", None) == "csv" else "jsonl"
    out: str | None = getattr(args, "out", None)
    service, engine = _service(settings)
    count = 0
    try:
        handle: TextIO
        with (
            open(out, "w", encoding="utf-8", newline="")  # noqa: PTH123 - a path or stdout, chosen at run time
            if out and out != "-"
            else _stdout()
        ) as handle:
            for chunk in service.export(fmt):
                handle.write(chunk)
                count += chunk.count("\n")
    except TriageError as exc:
        print(f"audit log could not be exported: {exc.detail}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    finally:
        engine.dispose()
    print(f"exported {count - (1 if fmt == 'csv' else 0)} audit records as {fmt}", file=sys.stderr)
    return EXIT_OK


class _stdout:
    """``sys.stdout`` as a context manager that does not close it."""

    def __enter__(self) -> TextIO:
        return sys.stdout

    def __exit__(self, *_: object) -> None:
        sys.stdout.flush()
