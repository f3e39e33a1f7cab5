"""``triage audit verify|export|rotate-key|public-key``.

Imports of the service happen inside the handlers, so registering the subcommands keeps ``triage --help``
instant.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from triage.core.actors import Actor

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from triage.config import Settings
    from triage.domain.audit.schemas import ExportFormat, ExportVerifyRead, PublicKeyRead, VerifyRead
    from triage.domain.audit.services import AuditService

EXIT_OK = 0
EXIT_TAMPERED = 1
EXIT_UNAVAILABLE = 2
EXIT_BAD_SIGNATURE = 3
"""A wrong key, or a signature that does not verify with the right one."""

TARGET = "triage.commands.audit:"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``audit`` and its subcommands to the ``triage`` parser."""
    audit = subparsers.add_parser("audit", help="the audit log").add_subparsers(
        dest="audit_command", required=True, metavar="WHAT"
    )
    verify = audit.add_parser(
        "verify", help="verify the database chain, or an export offline (--export) with a public key"
    )
    verify.add_argument("--export", type=Path, default=None, help="a JSONL or CSV export to verify offline")
    verify.add_argument(
        "--public-key",
        type=Path,
        default=None,
        help="PEM public key, or the JSON of GET /v1/audit/public-key (default: this installation's keys, "
        "else the key the export carries)",
    )
    verify.set_defaults(target=TARGET + "run_audit_verify")
    export = audit.add_parser("export", help="export the log (or the records of one case ...) with proofs")
    export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    export.add_argument("--out", type=Path, default=None, help="file to write (default: stdout)")
    export.add_argument("--case-id", default=None)
    export.add_argument("--order-id", default=None)
    export.add_argument("--actor", default=None, help="actor subject")
    export.add_argument("--action", default=None, help="dotted action, e.g. item.approved")
    export.set_defaults(target=TARGET + "run_audit_export")
    rotate = audit.add_parser("rotate-key", help="retire the Ed25519 key that signs tree heads (audited)")
    rotate.add_argument(
        "--private-key",
        type=Path,
        default=None,
        help="the new Ed25519 private key (PEM); default: generate one",
    )
    rotate.set_defaults(target=TARGET + "run_audit_rotate_key")
    public = audit.add_parser("public-key", help="print the published public keys (JSON), for auditors")
    public.add_argument("--out", type=Path, default=None)
    public.set_defaults(target=TARGET + "run_audit_public_key")


def _service(settings: Settings) -> tuple[AuditService, Engine]:
    from triage.db.engine import create_db_engine, create_session_factory
    from triage.domain.audit.services import AuditService

    engine = create_db_engine(settings.resolved_database_url)
    return AuditService(create_session_factory(engine), settings), engine


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
    return EXIT_BAD_SIGNATURE if result.failure == "wrong_key" else EXIT_TAMPERED


def _report_export(result: ExportVerifyRead, what: str) -> int:
    from triage.domain.audit.export_verify import describe

    if result.ok:
        print(f"{what} intact: {describe(result)}")
        if result.key_source == "embedded":
            print(
                "warning: checked against the public key the export carries, which proves it intact but not "
                "who signed it; pass --public-key with the key from GET /v1/audit/public-key",
                file=sys.stderr,
            )
        return EXIT_OK
    print(f"{what} NOT intact: {describe(result)}", file=sys.stderr)
    return EXIT_BAD_SIGNATURE if result.failure in ("wrong_key", "bad_signature") else EXIT_TAMPERED


def _trusted_keys(path: Path | None) -> list[PublicKeyRead] | None:
    """The keys to verify an export with: the file given, else this installation's published keys, else
    ``None`` (the export's own key)."""
    from triage.config import get_settings
    from triage.domain.audit.export_verify import trusted_keys_from_text
    from triage.domain.audit.keyring import read_public_keys

    if path is not None:
        return trusted_keys_from_text(path.read_text(encoding="utf-8"))
    return read_public_keys(get_settings().resolved_audit_public_keys_file) or None


def run_audit_verify(args: argparse.Namespace) -> int:
    """Exit 0 when the log (or the export given as ``args.export``) is intact; 1 naming the first bad
    sequence number when not; 3 for a wrong key or signature; 2 when the database or a file cannot be read."""
    from triage.config import get_settings
    from triage.core.errors import TriageError
    from triage.domain.audit.export_verify import verify_export_lines

    export: Path | None = getattr(args, "export", None)
    if export is not None:
        try:
            keys = _trusted_keys(getattr(args, "public_key", None))
            with Path(export).open(encoding="utf-8", newline="") as handle:
                result = verify_export_lines(handle, keys)
        except (OSError, ValueError, TriageError) as exc:
            print(f"audit export {export} could not be verified: {exc}", file=sys.stderr)
            return EXIT_UNAVAILABLE
        return _report_export(result, f"audit export {export}")
    try:
        service, engine = _service(get_settings())
    except TriageError as exc:
        print(f"audit log could not be verified: {exc.detail}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    try:
        return _report(service.verify(), "audit log")
    except TriageError as exc:
        print(f"audit log could not be verified: {exc.detail}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    finally:
        engine.dispose()


def run_audit_export(args: argparse.Namespace) -> int:
    """Write the log (or the records matching ``--case-id`` ...) as JSONL or CSV to ``args.out`` (stdout when
    absent or "-"), with its signed tree head and inclusion proofs."""
    from triage.config import get_settings
    from triage.core.errors import TriageError
    from triage.domain.audit.schemas import AuditFilters

    fmt: ExportFormat = "csv" if getattr(args, "format", None) == "csv" else "jsonl"
    out: str | None = getattr(args, "out", None)
    filters = AuditFilters(
        case_id=getattr(args, "case_id", None),
        order_id=getattr(args, "order_id", None),
        actor=getattr(args, "actor", None),
        action=getattr(args, "action", None),
    )
    count = 0
    try:
        service, engine = _service(get_settings())
        try:
            chunks = service.export(fmt, filters)
            with _open_out(out) as handle:
                for chunk in chunks:
                    handle.write(chunk)
                    count += chunk.count("\n")
        finally:
            engine.dispose()
    except TriageError as exc:
        print(f"audit log could not be exported: {exc.detail}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    header_lines = 2 if fmt == "csv" else 1
    print(f"exported {count - header_lines} audit records as {fmt}", file=sys.stderr)
    return EXIT_OK


def run_audit_rotate_key(args: argparse.Namespace) -> int:
    """Retire the key that signs tree heads and sign with a new one (``--private-key``, or generated)."""
    from triage.config import get_settings
    from triage.core.errors import TriageError
    from triage.domain.audit.signing import load_private_pem

    new_key_file: Path | None = getattr(args, "private_key", None)
    try:
        new_key = load_private_pem(new_key_file.read_bytes()) if new_key_file else None
    except (OSError, ValueError, TypeError) as exc:
        print(f"{new_key_file} is not a readable Ed25519 private key in PEM: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    try:
        service, engine = _service(get_settings())
        try:
            retired, current = service.rotate_signing_key(Actor.operator(), new_key)
        finally:
            engine.dispose()
    except TriageError as exc:
        print(f"audit signing key not rotated: {exc.detail}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    until = retired.valid_until.isoformat() if retired.valid_until else "now"
    print(f"audit signing key {retired.key_id} retired at {until}; key {current.key_id} signs from now")
    return EXIT_OK


def run_audit_public_key(args: argparse.Namespace) -> int:
    """Print (or write to ``--out``) the published public keys, as ``GET /v1/audit/public-key`` serves them."""
    from triage.config import get_settings
    from triage.core.errors import TriageError
    from triage.domain.audit.keyring import AuditKeyring

    try:
        published = AuditKeyring.from_settings(get_settings()).published_keys()
    except TriageError as exc:
        print(f"audit public keys unavailable: {exc.detail}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    with _open_out(getattr(args, "out", None)) as handle:
        handle.write(published.model_dump_json(indent=2) + "\n")
    return EXIT_OK


def _open_out(out: str | Path | None) -> TextIO | _Stdout:
    if out and str(out) != "-":
        return open(out, "w", encoding="utf-8", newline="")  # noqa: PTH123 - a path or stdout, chosen at run time
    return _Stdout()


class _Stdout:
    """``sys.stdout`` as a context manager that does not close it."""

    def __enter__(self) -> TextIO:
        return sys.stdout

    def __exit__(self, *_: object) -> None:
        sys.stdout.flush()
