"""Verify an audit export offline, with public keys only: no database, no HMAC secret, no service.

The header's tree head must carry a valid Ed25519 signature by one of the trusted keys (within its validity),
and its selection (filter and record list) a signature bound to that head. Then every record, in order, must be
the next one the selection lists, must match its own hash and the filter, and its ``audit_path`` must lead from
its leaf to the signed root. The first record that fails is named; a file that stops early is truncated.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from triage.domain.audit.export_format import CSV_COLUMNS, from_cell, record_matches, unescape_cell
from triage.domain.audit.merkle import root_from_inclusion_proof
from triage.domain.audit.records import EXPORT_FIELDS, record_hash, record_leaf
from triage.domain.audit.schemas import (
    ExportFailure,
    ExportFormat,
    ExportHeader,
    ExportVerifyRead,
    PublicKeyRead,
)
from triage.domain.audit.signing import (
    head_message,
    key_id_of,
    load_public_pem,
    selection_message,
    signature_valid,
)


class ExportProblem(Exception):
    """The first thing wrong with an export (raised inside the verifier, reported as its result)."""

    def __init__(self, failure: ExportFailure, problem: str, seq: int | None = None) -> None:
        super().__init__(problem)
        self.failure, self.problem, self.seq = failure, problem, seq


def trusted_keys_from_text(text: str) -> list[PublicKeyRead]:
    """Public keys from a PEM file, or from the JSON of ``GET /v1/audit/public-key`` (or the keyring file).

    A bare PEM carries no validity range, so it is trusted at any time."""
    stripped = text.strip()
    if stripped.startswith("-----BEGIN"):
        key = load_public_pem(stripped)
        since = datetime.min.replace(tzinfo=UTC)
        return [PublicKeyRead(key_id=key_id_of(key), public_key_pem=stripped + "\n", valid_from=since)]
    raw = json.loads(stripped)
    keys = raw.get("keys") if isinstance(raw, dict) else raw
    return [PublicKeyRead.model_validate(key) for key in keys or []]


def _check_header(header: ExportHeader, trusted: Sequence[PublicKeyRead] | None) -> None:
    head = header.tree_head
    if trusted is None:
        key = header.public_key
        if key_id_of(load_public_pem(key.public_key_pem)) != key.key_id or key.key_id != head.key_id:
            raise ExportProblem(
                "bad_signature", "the export's embedded public key is not the key named by its head"
            )
    else:
        found = next((k for k in trusted if k.key_id == head.key_id), None)
        if found is None:
            given = ", ".join(k.key_id for k in trusted) or "none"
            raise ExportProblem(
                "wrong_key",
                f"wrong key: the export's tree head is signed by key {head.key_id}, which is not among the "
                f"given public keys ({given})",
            )
        key = found
    if not signature_valid(load_public_pem(key.public_key_pem), head_message(head), head.signature):
        raise ExportProblem(
            "bad_signature",
            f"the tree head's signature does not verify with key {key.key_id}: the header was edited or forged",
        )
    if not key.valid_at(head.at):
        raise ExportProblem(
            "bad_signature",
            f"the tree head was signed at {head.at.isoformat()}, outside key {key.key_id}'s validity",
        )
    selection = header.selection
    message = selection_message(head, selection.filter, selection.seqs, selection.count)
    if selection.complete != (selection.seqs is None) or not signature_valid(
        load_public_pem(key.public_key_pem), message, selection.signature
    ):
        raise ExportProblem(
            "bad_signature",
            "the export's selection (its filter and record list) does not carry a valid signature",
        )
    _check_selection_shape(header)


def _check_selection_shape(header: ExportHeader) -> None:
    size, selection = header.tree_head.tree_size, header.selection
    if selection.seqs is None:
        if selection.filter or selection.count != size:
            raise ExportProblem(
                "malformed", "a complete export must hold every record of its tree, unfiltered"
            )
        return
    seqs = selection.seqs
    ordered = all(a < b for a, b in itertools.pairwise(seqs))
    if selection.count != len(seqs) or not ordered or (seqs and not 1 <= seqs[0] <= seqs[-1] <= size):
        raise ExportProblem(
            "malformed", "the export's record list is not a sorted list of records of its tree"
        )


class _RecordChecker:
    """Checks the records of one export in order against its (already verified) header."""

    def __init__(self, header: ExportHeader) -> None:
        head = header.tree_head
        self.size = head.tree_size
        self.root = bytes.fromhex(head.root)
        self.chain_head = head.chain_head
        self.filter = header.selection.filter
        self.seqs = header.selection.seqs
        self.expected = header.selection.count
        self.checked = 0

    def expected_seq(self, position: int) -> int | None:
        if position >= self.expected:
            return None
        return position + 1 if self.seqs is None else self.seqs[position]

    def feed(self, record: Mapping[str, Any] | None) -> None:
        want = self.expected_seq(self.checked)
        seq = record.get("seq") if record is not None else None
        if want is None:
            extra = seq if isinstance(seq, int) else None
            raise ExportProblem(
                "tampered",
                f"a line after the last record is not among the {self.expected} the header lists",
                extra,
            )
        if record is None or not isinstance(seq, int):
            raise ExportProblem(
                "tampered", f"the line in place of record {want} is not a readable record", want
            )
        if seq != want:
            if seq > want:
                raise ExportProblem(
                    "tampered",
                    f"record {want} is missing or out of place (record {seq} stands in its place)",
                    want,
                )
            raise ExportProblem(
                "tampered", f"record {seq} is out of order or repeated (expected {want})", seq
            )
        self._check_content(seq, record)
        self.checked += 1

    def _check_content(self, seq: int, record: Mapping[str, Any]) -> None:
        stored = record.get("hash")
        if not isinstance(stored, str) or record_hash(record) != stored:
            raise ExportProblem(
                "tampered", f"record {seq} was altered: its content does not match its hash", seq
            )
        path = record.get("audit_path")
        try:
            nodes = [bytes.fromhex(node) for node in path] if isinstance(path, list) else None
        except (TypeError, ValueError):
            nodes = None
        if (
            nodes is None
            or root_from_inclusion_proof(record_leaf(stored), seq - 1, self.size, nodes) != self.root
        ):
            raise ExportProblem(
                "tampered",
                f"record {seq} is not in the signed tree: altered with a recomputed hash, or shown against "
                "another tree head",
                seq,
            )
        if seq == self.size and stored != self.chain_head:
            raise ExportProblem("tampered", f"record {seq} is not the chain head the tree head names", seq)
        try:
            matches = record_matches(record, self.filter)
        except ValueError:
            matches = False
        if not matches:
            raise ExportProblem(
                "tampered", f"record {seq} does not match the export's filter {self.filter}", seq
            )

    def finish(self) -> None:
        if self.checked < self.expected:
            missing = self.expected_seq(self.checked)
            raise ExportProblem(
                "truncated",
                f"the export ends after {self.checked} of its {self.expected} records: record {missing} "
                "and after are missing (truncated)",
                missing,
            )


def _jsonl_rows(lines: Iterator[str]) -> Iterator[Mapping[str, Any] | None]:
    for line in lines:
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            yield None
            continue
        yield value if isinstance(value, dict) else None


def _csv_rows(lines: Iterable[str]) -> tuple[Any, Iterator[Mapping[str, Any] | None]]:
    reader = csv.reader(lines)
    columns = tuple(next(reader, ()))
    if columns != CSV_COLUMNS:
        raise ExportProblem("malformed", "the CSV columns are not those of an audit export")
    first = next(reader, None)
    if first is None or len(first) != len(CSV_COLUMNS) or first[0] != "header":
        raise ExportProblem(
            "malformed", "no signed header row: not an export of this service, or cut before it"
        )
    header = json.loads(unescape_cell(first[-1]) or "null")

    def records() -> Iterator[Mapping[str, Any] | None]:
        for row in reader:
            if len(row) != len(CSV_COLUMNS) or row[0] != "record":
                yield None
                continue
            try:
                record = {
                    name: from_cell(name, cell) for name, cell in zip(EXPORT_FIELDS, row[1:], strict=False)
                }
                record["audit_path"] = json.loads(unescape_cell(row[-2]) or "null")
            except ValueError:
                yield None
                continue
            yield record

    return header, records()


def verify_export_lines(
    lines: Iterable[str], public_keys: Sequence[PublicKeyRead] | None = None
) -> ExportVerifyRead:
    """Verify an export given as lines (a file opened with ``newline=""``, or ``str.splitlines(keepends=True)``).

    ``public_keys``: the keys to trust (from :func:`trusted_keys_from_text`); ``None`` trusts the key the export
    carries, which proves the export is intact but not who signed it."""
    iterator = iter(lines)
    first = next(iterator, "")
    fmt: ExportFormat = "csv" if first.startswith(CSV_COLUMNS[0] + ",") else "jsonl"
    checker: _RecordChecker | None = None
    header: ExportHeader | None = None
    try:
        if fmt == "csv":
            raw_header, rows = _csv_rows(_chain(first, iterator))
        else:
            raw_header, rows = (json.loads(first) if first.strip() else None), _jsonl_rows(iterator)
        header = _parse_header(raw_header)
        _check_header(header, public_keys)
        checker = _RecordChecker(header)
        for record in rows:
            checker.feed(record)
        checker.finish()
    except ExportProblem as found:
        return _result(fmt, header, checker, public_keys, found)
    except (ValueError, csv.Error) as exc:
        if checker is None:
            return _result(
                fmt, header, checker, public_keys, ExportProblem("malformed", f"unreadable export: {exc}")
            )
        seq = checker.expected_seq(checker.checked)
        unreadable = ExportProblem(
            "tampered", f"the export is unreadable where record {seq} should be: {exc}", seq
        )
        return _result(fmt, header, checker, public_keys, unreadable)
    return _result(fmt, header, checker, public_keys, None)


def verify_export_text(text: str, public_keys: Sequence[PublicKeyRead] | None = None) -> ExportVerifyRead:
    """:func:`verify_export_lines` over a whole export held in memory."""
    return verify_export_lines(io.StringIO(text, newline=""), public_keys)


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


def _parse_header(raw: Any) -> ExportHeader:
    if not isinstance(raw, dict) or raw.get("kind") != "header":
        raise ExportProblem(
            "malformed", "no signed header: not an export of this service, or cut before its first line"
        )
    try:
        return ExportHeader.model_validate(raw)
    except ValidationError as exc:
        raise ExportProblem(
            "malformed", f"the export header is not valid: {exc.error_count()} errors"
        ) from exc


def _result(
    fmt: ExportFormat,
    header: ExportHeader | None,
    checker: _RecordChecker | None,
    public_keys: Sequence[PublicKeyRead] | None,
    found: ExportProblem | None,
) -> ExportVerifyRead:
    return ExportVerifyRead(
        ok=found is None,
        format=fmt,
        checked=checker.checked if checker else 0,
        expected=header.selection.count if header else 0,
        tree_size=header.tree_head.tree_size if header else None,
        key_id=header.tree_head.key_id if header else None,
        key_source="embedded" if public_keys is None else "given",
        complete=header.selection.complete if header else None,
        failure=found.failure if found else None,
        first_bad_seq=found.seq if found else None,
        problem=found.problem if found else None,
    )


def describe(result: ExportVerifyRead) -> str:
    """One line for people: what was checked, or the first problem."""
    if result.ok:
        scope = "the whole log" if result.complete else f"{result.expected} selected records"
        return (
            f"{result.checked} records ({scope}) proven against the tree head of {result.tree_size} records "
            f"signed by key {result.key_id}"
        )
    where = f"first bad record seq={result.first_bad_seq}: " if result.first_bad_seq is not None else ""
    return f"{where}{result.problem} [{result.failure}]"
