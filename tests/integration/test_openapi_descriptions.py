"""A schema a client generator can use as it is (issue #14, item 5): in ``/schema/openapi.json`` every property
of every schema says what it means, every enum-typed property lists its values, every response is described."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from pydantic import BaseModel

from triage.app import create_app
from triage.config import Settings

JSON = dict[str, Any]

PENDING: frozenset[str] = frozenset()
"""Schemas known to lack descriptions (none now): a schema listed here must still lack some, so the list can
only shrink."""


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> JSON:
    home: Path = tmp_path_factory.mktemp("home")
    app = create_app(Settings(home=home, environment="test"))
    with TestClient(app) as client:
        response = client.get("/schema/openapi.json")
    assert response.status_code == 200, response.text[:500]
    doc: JSON = response.json()
    return doc


def _subschemas(schema: JSON, where: str) -> Iterator[tuple[str, JSON]]:
    """The schemas nested in ``schema`` other than its properties: array items, map values, alternatives."""
    if isinstance(schema.get("items"), dict):
        yield f"{where}[]", schema["items"]
    if isinstance(schema.get("additionalProperties"), dict):
        yield f"{where}{{}}", schema["additionalProperties"]
    for keyword in ("allOf", "oneOf", "anyOf"):
        for index, option in enumerate(schema.get(keyword) or []):
            yield f"{where}<{keyword}[{index}]>", option


def _properties(schema: JSON, where: str) -> Iterator[tuple[str, JSON]]:
    """Every property of ``schema`` and of the inline objects nested in it (a ``$ref`` is walked as its own
    component), each with a dotted path that names where it is."""
    for name, prop in (schema.get("properties") or {}).items():
        path = f"{where}.{name}"
        yield path, prop
        yield from _properties(prop, path)
    for path, sub in _subschemas(schema, where):
        yield from _properties(sub, path)


def _component(doc: JSON, ref: str) -> JSON:
    assert ref.startswith("#/components/schemas/"), ref
    component: JSON = doc["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return component


def _enum_values(doc: JSON, schema: JSON, seen: frozenset[str] = frozenset()) -> set[Any]:
    """The enum values a property's schema lists, through references, alternatives and array items."""
    values: set[Any] = set(schema.get("enum") or [])
    if "const" in schema:
        values.add(schema["const"])
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref not in seen:
        values |= _enum_values(doc, _component(doc, ref), seen | {ref})
    for _, sub in _subschemas(schema, ""):
        values |= _enum_values(doc, sub, seen)
    return values


def _expected_enum_values(annotation: Any) -> set[Any]:
    """The values a field's annotation allows when it is an enum or a ``Literal`` (also inside ``Optional``,
    ``Annotated`` and collections); empty for any other type."""
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return {member.value for member in annotation}
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return set(typing.get_args(annotation))
    if origin is typing.Annotated:
        return _expected_enum_values(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, list, tuple, set, frozenset):
        found: set[Any] = set()
        for arg in typing.get_args(annotation):
            if arg is not type(None) and arg is not Ellipsis:
                found |= _expected_enum_values(arg)
        return found
    return set()


def _models_in(doc: JSON) -> dict[str, type[BaseModel]]:
    """The service's pydantic models that appear in the document, by component name."""
    found: dict[str, type[BaseModel]] = {}
    stack: list[type[BaseModel]] = [BaseModel]
    while stack:
        model = stack.pop()
        stack.extend(model.__subclasses__())
        if model.__module__.startswith("triage.") and model.__name__ in doc["components"]["schemas"]:
            assert found.get(model.__name__, model) is model, f"two models named {model.__name__}"
            found[model.__name__] = model
    return found


def test_every_property_of_every_schema_is_described(document: JSON) -> None:
    missing: dict[str, list[str]] = {}
    walked = 0
    for name, schema in document["components"]["schemas"].items():
        for path, prop in _properties(schema, name):
            walked += 1
            if not str(prop.get("description") or "").strip():
                missing.setdefault(name, []).append(path)
    assert walked > 200, f"the walk found only {walked} properties"
    unexpected = {name: paths for name, paths in missing.items() if name not in PENDING}
    assert not unexpected, "properties without a description:\n" + "\n".join(
        path for paths in unexpected.values() for path in paths
    )
    complete = sorted(PENDING - missing.keys())
    assert not complete, f"described now, take them off PENDING: {complete}"


def test_the_walk_reaches_nested_inline_objects(document: JSON) -> None:
    """The problem body's ``errors`` items are an inline object: its properties are checked too."""
    paths = {path for path, _ in _properties(document["components"]["schemas"]["Problem"], "Problem")}
    assert {"Problem.errors[].field", "Problem.errors[].message"} <= paths, sorted(paths)


def test_every_enum_typed_property_lists_its_values(document: JSON) -> None:
    models = _models_in(document)
    assert {"TriageCase", "ExceptionEvent", "Order", "DecisionCreate", "WebhookCreate"} <= models.keys()
    wrong: list[str] = []
    checked = 0
    for name, model in sorted(models.items()):
        properties = document["components"]["schemas"][name].get("properties") or {}
        for field_name, field in model.model_fields.items():
            expected = _expected_enum_values(field.annotation)
            if not expected:
                continue
            checked += 1
            # an optional Literal is listed with null among its values; null is not one the field names
            listed = _enum_values(document, properties.get(field_name) or {}) - {None}
            if listed != expected:
                wrong.append(
                    f"{name}.{field_name}: lists {sorted(listed, key=str)}, allows {sorted(expected)}"
                )
    assert checked > 20, checked
    assert not wrong, "enum-typed properties that do not list exactly their values:\n" + "\n".join(wrong)


def test_every_enum_schema_lists_its_values(document: JSON) -> None:
    empty = [
        name
        for name, schema in document["components"]["schemas"].items()
        if "properties" not in schema and schema.get("type") == "string" and not schema.get("enum")
    ]
    assert not empty, f"string schemas that list no values: {empty}"


def test_every_response_of_every_operation_is_described(document: JSON) -> None:
    missing: list[str] = []
    operations = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in {"get", "put", "post", "delete", "options", "head", "patch", "trace"}:
                continue
            operations += 1
            responses = operation.get("responses") or {}
            if not responses:
                missing.append(f"{method.upper()} {path}: no responses")
            for code, response in responses.items():
                if "$ref" in response:
                    response = document["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
                if not str(response.get("description") or "").strip():
                    missing.append(f"{method.upper()} {path} {code}")
    assert operations > 20, operations
    assert not missing, "responses without a description:\n" + "\n".join(missing)
