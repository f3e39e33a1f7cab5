"""Reading a governed YAML document into a typed model, with errors a person can act on."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from triage.core.errors import ConfigurationError

ModelT = TypeVar("ModelT", bound=BaseModel)


def read_yaml(path: Path) -> Any:
    """The parsed content of ``path``; ``ConfigurationError`` naming the file (and line) when unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigurationError(f"{path}: no such file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{path}: cannot read ({exc})") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigurationError(f"{path}:{where}: invalid YAML: {problem}") from exc


def validation_errors(exc: ValidationError) -> list[str]:
    """One line per problem: the dotted location in the file, then what is wrong."""
    lines = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        lines.append(f"{location}: {message}" if location else message)
    return lines


def validate(model: type[ModelT], data: Any, path: Path) -> ModelT:
    """``data`` validated as ``model``; ``ConfigurationError`` listing every problem when it is not."""
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = validation_errors(exc)
        raise ConfigurationError(
            f"{path}: {len(errors)} problem(s):\n  " + "\n  ".join(errors), extra={"errors": errors}
        ) from exc
