"""Schemathesis against the live OpenAPI document, for each role: no 5xx, every response matches the schema.

Each operation gets a bounded number of positive and negative examples per role (``TRIAGE_FUZZ_EXAMPLES``,
default 6 each in ``make test``). ``make fuzz`` runs 17 each — over 5,000 generated requests across every route
and role — and the last test then checks the run was that large (``TRIAGE_FUZZ_MIN_REQUESTS``) and answered no
5xx. Requests go through the app's own
test client (one started app for the module), and the responses are validated with schemathesis' checks.

Errors are problem+json everywhere (the contract). The codes every protected operation can answer with,
whatever the handler (400 malformed, 401, 403, 413, 422, 429), are added to the fetched document as problem
responses where the handler does not document them; route-specific codes (404, 409, 200 replays) must be
documented by the handler itself or the status-code check fails.
"""

from __future__ import annotations

import copy
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.live_app import LiveApp, live_app
from triage.config import Settings
from triage.core.actors import Role

pytestmark = pytest.mark.slow  # starts a live app on a bootstrapped home

MAX_EXAMPLES = int(os.environ.get("TRIAGE_FUZZ_EXAMPLES", "6"))
MIN_REQUESTS = int(os.environ.get("TRIAGE_FUZZ_MIN_REQUESTS", "0"))
SENT: dict[str, int] = {"requests": 0, "server_errors": 0, "operations": 0}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
PROBLEM_JSON = "application/problem+json"
CROSS_CUTTING_ERRORS = {
    "400": "Malformed request",
    "401": "Missing, unknown or revoked credential",
    "403": "The caller's role may not call this operation",
    "413": "Request body too large",
    "422": "Validation failed",
    "429": "Rate limit exceeded",
}
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    },
}


def _declared_operations() -> list[tuple[str, str]]:
    from triage.app import create_app

    app = create_app(Settings(home=Path(tempfile.mkdtemp(prefix="triage-openapi-")), environment="test"))
    document = app.openapi_schema.to_schema()
    return sorted(
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    )


OPERATIONS = _declared_operations()


def with_problem_responses(document: dict[str, Any]) -> dict[str, Any]:
    """The document plus the cross-cutting problem responses, where an operation does not state them."""
    document = copy.deepcopy(document)
    for item in document["paths"].values():
        for method, operation in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for code, description in CROSS_CUTTING_ERRORS.items():
                declared = responses.get(code, {}).get("content", {})
                if PROBLEM_JSON not in declared:
                    responses[code] = {
                        "description": description,
                        "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}},
                    }
    return document


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    with live_app(tmp_path_factory.mktemp("fuzz")) as app:
        yield app


@pytest.fixture(scope="module")
def schema(env: LiveApp) -> Any:
    response = env.client.get("/schema/openapi.json")
    assert response.status_code == 200
    return schemathesis.openapi.from_dict(with_problem_responses(response.json()))


def _send(env: LiveApp, case: Any, role: Role) -> Any:
    if isinstance(case.query, dict) and "wait" in case.query:
        # The feed's long-poll would hold each request up to 30 s; its waiting is tested on its own.
        case.query["wait"] = 0
    kwargs = case.as_transport_kwargs(base_url=str(env.client.base_url), headers=env.auth(role))
    return env.client.request(
        kwargs["method"],
        kwargs["url"],
        headers=kwargs.get("headers"),
        params=kwargs.get("params"),
        json=kwargs.get("json"),
        content=kwargs.get("data"),
    )


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_operation_conforms(env: LiveApp, schema: Any, method: str, path: str, role: Role, mode: Any) -> None:
    operation = schema[path][method]
    seen: list[int] = []

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: Any) -> None:
        response = _send(env, case, role)
        seen.append(response.status_code)
        SENT["requests"] += 1
        SENT["server_errors"] += response.status_code >= 500
        case.validate_response(response, checks=CHECKS)

    check()
    SENT["operations"] += 1
    assert seen, "no example was generated"
    assert all(status < 500 for status in seen), seen


def test_the_fuzz_run_was_large_and_answered_no_5xx() -> None:
    if SENT["operations"] < len(OPERATIONS) * len(Role) * 2:
        pytest.skip("only part of the fuzz run was selected")
    assert SENT["requests"] >= MIN_REQUESTS, f"only {SENT['requests']} generated requests were sent"
    assert SENT["server_errors"] == 0
