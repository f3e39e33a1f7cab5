"""The export format, written by the service and read back by the offline verifier.

JSONL: the first line is the :class:`~triage.domain.audit.schemas.ExportHeader` (signed tree head, public key,
signed selection); every other line is one record as stored plus ``audit_path``, its RFC 6962 inclusion proof
(hex, leaf level first) against the head; the leaf index is ``seq - 1``.

CSV (RFC 4180, CRLF line ends, so a carriage return inside a cell is quoted too): the column names, then a
``header`` row whose ``export_header`` cell holds the same header JSON, then one
``record`` row per record with its ``audit_path`` as a JSON list. Cells are escaped against formula injection
(OWASP): a cell that starts with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a leading ``'``. So
that the escaping can be undone exactly, a cell that starts with ``'`` is escaped too, and an empty string is
written as a lone ``'`` (an empty cell is null).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from triage.core.hashing import canonical_json
from triage.domain.audit.records import EXPORT_FIELDS, FLOAT_FIELDS, JSON_FIELDS, format_time
from triage.domain.audit.schemas import AuditFilters, ExportHeader

CSV_COLUMNS = ("kind", *EXPORT_FIELDS, "audit_path", "export_header")
ESCAPED_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "'")
FILTER_FIELDS = {"case_id": "case_id", "order_id": "order_id", "actor": "actor_subject", "action": "action"}
"""Filter name → the record field it must equal (``since``/``until`` bound ``at``)."""


def filter_dict(filters: AuditFilters) -> dict[str, str]:
    """The filter as the export header states it: set fields only, times as UTC ISO strings."""
    values: dict[str, str] = {}
    for name in ("case_id", "order_id", "actor", "action", "since", "until"):
        value = getattr(filters, name)
        if value is not None:
            values[name] = format_time(value) if isinstance(value, datetime) else str(value)
    return values


def record_matches(record: Mapping[str, Any], filter_: Mapping[str, str]) -> bool:
    """Whether a record (``at`` as an ISO string) satisfies an export header's filter."""
    for name, value in filter_.items():
        if name in FILTER_FIELDS and record.get(FILTER_FIELDS[name]) != value:
            return False
    at = datetime.fromisoformat(str(record.get("at")))
    if "since" in filter_ and at < datetime.fromisoformat(filter_["since"]):
        return False
    return not ("until" in filter_ and at >= datetime.fromisoformat(filter_["until"]))


def escape_cell(text: str) -> str:
    return "'" + text if not text or text.startswith(ESCAPED_PREFIXES) else text


def unescape_cell(cell: str) -> str | None:
    """The inverse of :func:`escape_cell` over :func:`to_cell`: an empty cell is null."""
    if not cell:
        return None
    return cell[1:] if cell.startswith("'") else cell


def to_cell(value: Any) -> str:
    if value is None:
        return ""
    return escape_cell(canonical_json(value) if isinstance(value, dict | list) else str(value))


def from_cell(name: str, cell: str) -> Any:
    """A record field back from its CSV cell, typed as the JSONL export has it."""
    text = unescape_cell(cell)
    if text is None:
        return None
    if name == "seq":
        return int(text)
    if name in JSON_FIELDS:
        return json.loads(text)
    if name in FLOAT_FIELDS:
        return float(text)
    return text


def proof_hex(path: Sequence[bytes]) -> list[str]:
    return [node.hex() for node in path]


def jsonl_header(header: ExportHeader) -> str:
    return canonical_json(header.model_dump(mode="json")) + "\n"


def jsonl_record(record: Mapping[str, Any], path: Sequence[bytes]) -> str:
    return canonical_json({**record, "audit_path": proof_hex(path)}) + "\n"


def csv_line(values: Iterable[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(values)
    return buffer.getvalue()


def csv_header(header: ExportHeader) -> str:
    cells = ["header", *([""] * (len(CSV_COLUMNS) - 2)), to_cell(header.model_dump(mode="json"))]
    return csv_line(CSV_COLUMNS) + csv_line(cells)


def csv_record(record: Mapping[str, Any], path: Sequence[bytes]) -> str:
    return csv_line(
        ["record", *(to_cell(record[name]) for name in EXPORT_FIELDS), to_cell(proof_hex(path)), ""]
    )
