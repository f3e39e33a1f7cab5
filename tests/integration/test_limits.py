"""Resource limits answer with 413, 422 and 429 (with Retry-After) as problem+json, never with a 5xx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.factories import make_event
from tests.integration.live_app import LiveApp, live_app
from triage.core.actors import Role
from triage.core.events import (
    MAX_CONTEXT_KEYS,
    MAX_CONTEXT_VALUE_CHARS,
    MAX_CUSTOMER_MESSAGE_CHARS,
    MAX_DESCRIPTION_CHARS,
    MAX_LINES,
)

pytestmark = pytest.mark.slow  # starts a live app on a bootstrapped home

PROBLEM_JSON = "application/problem+json"
RATE_LIMIT = 5


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    with live_app(tmp_path_factory.mktemp("limits")) as app:
        yield app


def _event(**overrides: Any) -> dict[str, Any]:
    return make_event().model_dump(mode="json") | overrides


def _post(env: LiveApp, body: Any) -> Any:
    return env.client.post("/v1/exceptions", json=body, headers=env.auth(Role.WORKFLOW))


def _assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status and problem["title"]
    assert "Traceback" not in response.text
    return problem


def test_oversize_body_is_413(env: LiveApp) -> None:
    padding = "x" * (env.settings.max_body_bytes + 1024)
    response = env.client.post(
        "/v1/exceptions",
        content=json.dumps(_event(description=padding)).encode(),
        headers={**env.auth(Role.WORKFLOW), "content-type": "application/json"},
    )
    _assert_problem(response, 413)


def test_oversize_body_without_content_length_is_413(env: LiveApp) -> None:
    chunk = b"x" * 65536

    def stream() -> Iterator[bytes]:
        yield b'{"description": "'
        for _ in range(env.settings.max_body_bytes // len(chunk) + 2):
            yield chunk
        yield b'"}'

    response = env.client.post(
        "/v1/exceptions",
        content=stream(),
        headers={**env.auth(Role.WORKFLOW), "content-type": "application/json"},
    )
    _assert_problem(response, 413)


def _lines(n: int) -> list[dict[str, Any]]:
    return [{"line_id": str(i), "sku": f"SKU-{i}", "quantity_ordered": "1"} for i in range(n)]


OVER_LIMIT: dict[str, Any] = {
    "description": lambda e: e | {"description": "d" * (MAX_DESCRIPTION_CHARS + 1)},
    "customer_message": lambda e: e | {"customer_message": "m" * (MAX_CUSTOMER_MESSAGE_CHARS + 1)},
    "order.lines": lambda e: e | {"order": e["order"] | {"lines": _lines(MAX_LINES + 1)}},
    "context keys": lambda e: e | {"context": {f"k{i}": i for i in range(MAX_CONTEXT_KEYS + 1)}},
    "context value": lambda e: e | {"context": {"note": "v" * (MAX_CONTEXT_VALUE_CHARS + 1)}},
    "line description": lambda e: (
        e | {"order": e["order"] | {"lines": [_lines(1)[0] | {"description": "l" * 201}]}}
    ),
    "event_id": lambda e: e | {"event_id": "e" * 129},
    "unknown field": lambda e: e | {"is_admin": True},
    "NUL in text": lambda e: e | {"description": "short\x00 text"},
    "deep nesting": lambda e: e | {"context": {"a": [[[[[[[[[[[]]]]]]]]]]]}},
}


@pytest.mark.parametrize("name", list(OVER_LIMIT))
def test_text_and_list_limits_are_422_naming_the_field(env: LiveApp, name: str) -> None:
    problem = _assert_problem(_post(env, OVER_LIMIT[name](_event())), 422)
    assert problem.get("detail")


def test_at_the_limits_is_accepted(env: LiveApp) -> None:
    body = _event(
        description="d" * MAX_DESCRIPTION_CHARS,
        customer_message="m" * MAX_CUSTOMER_MESSAGE_CHARS,
        context={f"k{i}": "v" * MAX_CONTEXT_VALUE_CHARS for i in range(MAX_CONTEXT_KEYS)},
    )
    body["order"]["lines"] = _lines(MAX_LINES)
    response = _post(env, body)
    assert response.status_code == 201, response.text[:500]


@pytest.mark.parametrize("body", [b"{", b"\xff\xfe", b"[]", b"null", b'"text"', b"1e999999"])
def test_malformed_bodies_are_4xx(env: LiveApp, body: bytes) -> None:
    response = env.client.post(
        "/v1/exceptions",
        content=body,
        headers={**env.auth(Role.WORKFLOW), "content-type": "application/json"},
    )
    assert 400 <= response.status_code < 500, (body, response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith(PROBLEM_JSON)


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"limit": 0}, 400),
        ({"limit": 201}, 400),
        ({"limit": 10**12}, 400),
        ({"limit": "many"}, 400),
        ({"limit": 200}, 200),
    ],
)
def test_page_size_is_bounded(env: LiveApp, params: dict[str, Any], status: int) -> None:
    response = env.client.get("/v1/cases", params=params, headers=env.auth(Role.SUPERVISOR))
    if status == 200:
        assert response.status_code == 200
    else:
        assert response.status_code in {400, 422}, (params, response.status_code)
        assert response.headers["content-type"].startswith(PROBLEM_JSON)


@pytest.mark.parametrize("cursor", ["", "not-a-cursor", "' OR 1=1 --", "x" * 5000, "\u202e\u0000"])
def test_bad_cursors_are_4xx(env: LiveApp, cursor: str) -> None:
    response = env.client.get("/v1/cases", params={"cursor": cursor}, headers=env.auth(Role.SUPERVISOR))
    assert response.status_code < 500, (cursor[:20], response.status_code, response.text[:300])


def test_rate_limit_is_429_with_retry_after_per_key(tmp_path_factory: pytest.TempPathFactory) -> None:
    with live_app(tmp_path_factory.mktemp("ratelimit"), rate_limit_per_minute=RATE_LIMIT) as env:
        headers = env.auth(Role.COMPLIANCE)
        statuses = [env.client.get("/v1/model", headers=headers).status_code for _ in range(RATE_LIMIT + 2)]
        assert statuses[:RATE_LIMIT] == [200] * RATE_LIMIT
        assert statuses[RATE_LIMIT:] == [429, 429]
        response = env.client.get("/v1/model", headers=headers)
        problem = _assert_problem(response, 429)
        assert 1 <= int(response.headers["retry-after"]) <= 60, problem
        # Another key has its own budget; probes are never limited.
        assert env.client.get("/v1/model", headers=env.auth(Role.AGENT)).status_code == 200
        assert all(env.client.get("/health").status_code == 200 for _ in range(RATE_LIMIT + 2))


BODY_ROUTES = {
    "/v1/exceptions": Role.WORKFLOW,
    "/v1/cases/{case_id}/decisions": Role.SUPERVISOR,
    "/v1/cases/{case_id}/resolution": Role.WORKFLOW,
}
MALFORMED_JSON = {
    "duplicate key": b'{"event_id": "a", "event_id": "b"}',
    "nested 1000 deep": b'{"context": ' + b"[" * 1000 + b"]" * 1000 + b"}",
    "NaN": b'{"hours_to_resolve": NaN}',
    "two documents": b"{} {}",
}


@pytest.fixture(scope="module")
def some_case(env: LiveApp) -> str:
    response = _post(env, _event())
    assert response.status_code == 201, response.text
    return str(response.json()["case_id"])


@pytest.mark.parametrize("name", list(MALFORMED_JSON))
@pytest.mark.parametrize("route", BODY_ROUTES)
def test_malformed_json_is_400_on_every_body_route(
    env: LiveApp, some_case: str, route: str, name: str
) -> None:
    response = env.client.post(
        route.format(case_id=some_case),
        content=MALFORMED_JSON[name],
        headers={**env.auth(BODY_ROUTES[route]), "content-type": "application/json"},
    )
    _assert_problem(response, 400)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
@pytest.mark.parametrize("route", BODY_ROUTES)
def test_a_body_that_is_not_declared_json_is_415(
    env: LiveApp, some_case: str, route: str, content_type: str | None
) -> None:
    headers = env.auth(BODY_ROUTES[route]) | ({"content-type": content_type} if content_type else {})
    response = env.client.post(route.format(case_id=some_case), content=json.dumps(_event()), headers=headers)
    _assert_problem(response, 415)


def test_a_flood_of_unknown_or_revoked_keys_is_limited_per_address_and_barely_audited(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    limit = 40
    with live_app(tmp_path_factory.mktemp("flood"), rate_limit_per_address_per_minute=limit) as env:
        compliance = env.auth(Role.COMPLIANCE)
        before = env.client.get("/v1/audit/verify", headers=compliance).json()["checked"]
        statuses = [
            env.client.get("/v1/model", headers={"Authorization": f"Bearer trk_unknown{i:04d}"}).status_code
            for i in range(1000)
        ]
        revoked = [
            env.client.get("/v1/model", headers={"Authorization": f"Bearer {env.revoked_token}"}).status_code
            for _ in range(200)
        ]
        assert set(statuses[: limit - 1]) == {401}
        assert statuses[limit:] == [429] * (1000 - limit)
        assert set(revoked) == {429}
        # The address is limited, so the compliance check itself runs on a fresh app state: read the store.
        after = env.services.audit.verify().checked
        assert after - before <= 5, f"{after - before} audit records for a flood of bad keys"


def _cursor(value: Any) -> str:
    import base64

    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


HOSTILE_QUERIES = [
    ("/v1/audit", Role.COMPLIANCE, {"since": "2026-05-01T08:00:00"}),
    ("/v1/audit", Role.COMPLIANCE, {"until": "0001-01-01T00:00:00+14:00"}),
    ("/v1/audit", Role.COMPLIANCE, {"since": "9999-12-31T23:59:59-14:00"}),
    ("/v1/audit", Role.COMPLIANCE, {"cursor": "²"}),
    ("/v1/audit", Role.COMPLIANCE, {"cursor": "٣"}),
    ("/v1/audit", Role.COMPLIANCE, {"cursor": str(2**70)}),
    ("/v1/audit", Role.COMPLIANCE, {"cursor": _cursor([2**70])}),
    ("/v1/reviews", Role.SUPERVISOR, {"cursor": "٣"}),
    ("/v1/reviews", Role.SUPERVISOR, {"cursor": _cursor([-1])}),
    ("/v1/cases", Role.SUPERVISOR, {"cursor": _cursor([{"t": "2026-05-01T08:00:00"}, "case_x"])}),
    ("/v1/cases", Role.SUPERVISOR, {"cursor": _cursor([{"t": "2026-05-01T08:00:00+00:00"}, 5])}),
    ("/v1/cases", Role.SUPERVISOR, {"cursor": _cursor([[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]])}),
    ("/v1/cases", Role.SUPERVISOR, {"updated_since": "0001-01-01T00:00:00+14:00"}),
    ("/v1/events", Role.WORKFLOW, {"after": _cursor(["x"])}),
]


@pytest.mark.parametrize(
    ("path", "role", "params"), HOSTILE_QUERIES, ids=[str(q[2])[:40] for q in HOSTILE_QUERIES]
)
def test_hostile_times_and_cursors_are_4xx(
    env: LiveApp, path: str, role: Role, params: dict[str, str]
) -> None:
    response = env.client.get(path, params=params, headers=env.auth(role))
    assert 400 <= response.status_code < 500, (params, response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
