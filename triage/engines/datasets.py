"""Reading labelled text and historical cases from CSV or JSONL files.

Three shapes are accepted everywhere (train, index, eval): plain ``text,label`` CSV, plain JSONL with text
and label keys, and the shipped history format ``{"event": ..., "label": ..., "resolution_action": ...}``,
whose text is ``classification_text(event)``. Errors name the file, the line and the problem.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from triage.core.errors import InvalidInput
from triage.core.events import ExceptionEvent, classification_text


@dataclass(frozen=True)
class LabelledText:
    text: str
    label: str
    case_id: str | None = None
    record: dict[str, Any] = field(default_factory=dict)
    """The whole source record (for history files: event, resolution, outcome ...)."""


def _read_text(path: Path) -> Iterator[tuple[int, str]]:
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file")
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            yield from enumerate(handle, start=1)
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path}: not valid UTF-8 text ({exc.reason} at byte {exc.start})") from exc


def _from_record(
    record: dict[str, Any], path: Path, line_no: int, text_col: str, label_col: str
) -> LabelledText:
    if "event" in record and isinstance(record["event"], dict):
        try:
            event = ExceptionEvent.model_validate(record["event"])
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise InvalidInput(f"{path}:{line_no}: event.{where}: {first['msg']}") from exc
        text = classification_text(event)
        case_id: str | None = event.event_id
    else:
        if text_col not in record:
            raise InvalidInput(f"{path}:{line_no}: missing column {text_col!r} (columns: {sorted(record)})")
        text = str(record[text_col] or "")
        case_id = str(record["case_id"]) if record.get("case_id") is not None else None
    if label_col not in record:
        raise InvalidInput(f"{path}:{line_no}: missing column {label_col!r} (columns: {sorted(record)})")
    label = str(record[label_col] or "").strip()
    if not text.strip():
        raise InvalidInput(f"{path}:{line_no}: empty text")
    if not label:
        raise InvalidInput(f"{path}:{line_no}: empty label")
    return LabelledText(text=text, label=label, case_id=case_id, record=record)


def iter_labelled(path: Path, *, text_col: str = "text", label_col: str = "label") -> Iterator[LabelledText]:
    """Yield labelled rows from ``path`` (``.csv`` or ``.jsonl``), raising ``InvalidInput`` on the first bad row."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        lines = (line for _, line in _read_text(path))
        reader = csv.DictReader(lines)
        if reader.fieldnames is None:
            raise InvalidInput(f"{path}: empty file")
        for missing in (text_col, label_col):
            if missing not in reader.fieldnames:
                raise InvalidInput(f"{path}: missing column {missing!r} (columns: {reader.fieldnames})")
        for index, row in enumerate(reader, start=2):
            yield _from_record(dict(row), path, index, text_col, label_col)
    elif suffix in (".jsonl", ".ndjson"):
        for line_no, line in _read_text(path):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"{path}:{line_no}: invalid JSON ({exc.msg})") from exc
            if not isinstance(record, dict):
                raise InvalidInput(f"{path}:{line_no}: expected a JSON object")
            yield _from_record(record, path, line_no, text_col, label_col)
    else:
        raise InvalidInput(f"{path}: unsupported file type {suffix!r}; use .csv or .jsonl")


def load_labelled(path: Path, *, text_col: str = "text", label_col: str = "label") -> list[LabelledText]:
    rows = list(iter_labelled(path, text_col=text_col, label_col=label_col))
    if not rows:
        raise InvalidInput(f"{path}: no rows")
    return rows
