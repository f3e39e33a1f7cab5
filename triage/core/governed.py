"""Reading a governed YAML file (policy, taxonomy, prompt, template, fact-check) into a typed model.

Every failure is a ``ConfigurationError`` whose detail has one line per problem, always in one format::

    <file>: <where>: <problem>

``<where>`` is the dotted path inside the file (``categories.credit_hold.thresholds.auto``, list items as
``raise_when[0]``), ``line L, column C`` for a YAML syntax error, ``(top level)`` for the document as a whole,
or ``(file)`` when the file itself is missing or unreadable. ``extra["problems"]`` holds the same lines.
Checks that span files (a prompt per draft kind, a template per taxonomy label) report in the same format.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from triage.core.errors import ConfigurationError

ModelT = TypeVar("ModelT", bound=BaseModel)
Loc = tuple[str | int, ...]
Where = str | Loc

FILE = "(file)"
TOP_LEVEL = "(top level)"
_SHOWN_TYPES = (str, int, float, Decimal, bool, type(None))
_NOT_SHOWN_ERRORS = frozenset({"missing", "extra_forbidden", "value_error", "assertion_error"})
_SHOWN_CHARS = 60


class InvalidAt(ValueError):
    """Raised inside a governed model's validator: problems at paths below that model.

    ``InvalidAt("thresholds.auto", "must be >= review")`` raised while validating ``categories.credit_hold``
    is reported at ``categories.credit_hold.thresholds.auto``; an empty path means the model itself.
    """

    def __init__(self, where: Where, problem: str, *more: tuple[Where, str]) -> None:
        self.problems: tuple[tuple[Loc, str], ...] = tuple((_loc(w), p) for w, p in ((where, problem), *more))
        super().__init__("; ".join(f"{dotted(loc) or TOP_LEVEL}: {p}" for loc, p in self.problems))

    @classmethod
    def many(cls, problems: Sequence[tuple[Where, str]]) -> InvalidAt:
        """One error carrying several ``(where, problem)`` pairs (at least one)."""
        return cls(*problems[0], *problems[1:])


def _loc(where: Where) -> Loc:
    if isinstance(where, tuple):
        return where
    return tuple(where.split(".")) if where else ()


def dotted(loc: Sequence[str | int]) -> str:
    """``("categories", "x", "raise_when", 0)`` → ``categories.x.raise_when[0]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            out += " (the key)"
        else:
            out += f".{part}" if out else str(part)
    return out


def problem_line(path: Path, where: Where, problem: str) -> str:
    """One problem in the governed-file format: ``<file>: <where>: <problem>``."""
    shown = where if isinstance(where, str) else dotted(where)
    return f"{path}: {shown or TOP_LEVEL}: {problem}"


def governed_error(path: Path, problems: Iterable[tuple[Where, str]]) -> ConfigurationError:
    """A ``ConfigurationError`` listing ``problems`` (``(where, problem)`` pairs) of the file ``path``."""
    return files_error((path, where, problem) for where, problem in problems)


def files_error(problems: Iterable[tuple[Path, Where, str]]) -> ConfigurationError:
    """A ``ConfigurationError`` listing ``(file, where, problem)`` triples, one line each."""
    lines = [problem_line(path, where, problem) for path, where, problem in problems]
    return ConfigurationError("\n".join(lines), extra={"problems": lines})


class _GovernedYamlLoader(yaml.SafeLoader):
    """Safe YAML that refuses duplicate keys and reads only ``true``/``false`` as booleans.

    A duplicate key silently dropping a rule, or ``mode: off`` arriving as ``False``, would make a governed
    file mean something other than what its reviewer read.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, list | dict) or key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate or unhashable key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_GovernedYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_GovernedYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def read_yaml(path: Path) -> Any:
    """The parsed YAML of ``path``; a ``ConfigurationError`` when it is missing, unreadable or not YAML."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise governed_error(path, [(FILE, "no such file")]) from exc
    except IsADirectoryError as exc:
        raise governed_error(path, [(FILE, "is a directory, not a file")]) from exc
    except UnicodeDecodeError as exc:
        raise governed_error(path, [(FILE, f"not UTF-8 text ({exc.reason} at byte {exc.start})")]) from exc
    except OSError as exc:
        raise governed_error(path, [(FILE, f"cannot read ({exc.strerror or exc})")]) from exc
    try:
        return yaml.load(text, Loader=_GovernedYamlLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise governed_error(path, [_yaml_problem(exc)]) from exc


def _yaml_problem(exc: yaml.YAMLError) -> tuple[Where, str]:
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else TOP_LEVEL
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    return where, f"invalid YAML: {problem}" + (f" ({context})" if context else "")


def validate(model: type[ModelT], data: Any, path: Path) -> ModelT:
    """``data`` (a file's parsed YAML) validated as ``model``; a ``ConfigurationError`` with every problem."""
    if not isinstance(data, dict):
        got = "an empty file" if data is None else f"a {type(data).__name__}"
        raise governed_error(path, [(TOP_LEVEL, f"expected a mapping, got {got}")])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise governed_error(path, validation_problems(exc)) from exc


def load_governed(path: Path, model: type[ModelT]) -> ModelT:
    """Read ``path`` and validate it as ``model``; any failure is one ``ConfigurationError``."""
    return validate(model, read_yaml(path), path)


def validation_problems(exc: ValidationError) -> list[tuple[Where, str]]:
    """``(where, problem)`` for every error pydantic found, ``InvalidAt`` paths expanded."""
    problems: list[tuple[Where, str]] = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, InvalidAt):
            problems += [(loc + sub, problem) for sub, problem in cause.problems]
        else:
            problems.append((loc, _message(error)))
    return problems


def _message(error: ErrorDetails) -> str:
    message = error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    value = error.get("input")
    if error["type"] in _NOT_SHOWN_ERRORS or not isinstance(value, _SHOWN_TYPES):
        return message
    shown = repr(value)
    if len(shown) > _SHOWN_CHARS:
        shown = shown[: _SHOWN_CHARS - 3] + "..."
    return f"{message} (got {shown})"
