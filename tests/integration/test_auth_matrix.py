"""Every route by every caller (each role, no key, a revoked key), generated from the app's own routes.

A route added to the app is picked up here without editing this file: it either has a rule in
``triage.domain.auth.policy.ROUTE_RULES`` (and is checked against it) or the inventory test fails.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.factories import make_event
from tests.integration.live_app import LiveApp, app_routes, live_app
from triage.config import Settings
from triage.core.actors import Role
from triage.domain.auth.guards import effective_rule, rule_from_opt
from triage.domain.auth.policy import ROUTE_RULES, RouteRule

pytestmark = pytest.mark.slow  # starts a live app on a bootstrapped home

PROBLEM_JSON = "application/problem+json"
CALLERS: list[Role | str] = [*Role, "no_key", "revoked_key"]
EXPECTED_PUBLIC = re.compile(r"^(/health|/ready|/metrics|/schema(/.*)?|/ui/(sign-in|sign-out|static/.*))$")


def _declared_routes() -> list[tuple[str, str, dict[str, Any]]]:
    from triage.app import create_app

    home = Path(tempfile.mkdtemp(prefix="triage-routes-"))
    return app_routes(create_app(Settings(home=home, environment="test")))


ROUTES = _declared_routes()
PROTECTED = [(m, p, opt) for m, p, opt in ROUTES if m != "OPTIONS" and not EXPECTED_PUBLIC.match(p)]


def _rule(method: str, path: str, opt: dict[str, Any]) -> RouteRule:
    rule = effective_rule(method, path, opt)
    assert rule is not None, f"{method} {path} has no authorization rule"
    return rule


# --- inventory -----------------------------------------------------------------------------------------


def test_every_route_has_a_rule() -> None:
    missing = [f"{m} {p}" for m, p, opt in ROUTES if effective_rule(m, p, opt) is None]
    assert not missing, f"routes without an authorization rule (add them to ROUTE_RULES): {missing}"


def test_handler_opt_roles_agree_with_the_rules_table() -> None:
    disagreeing = []
    for method, path, opt in ROUTES:
        declared, table = rule_from_opt(opt), ROUTE_RULES.get((method, path))
        if declared is not None and table is not None and declared != table:
            disagreeing.append(f"{method} {path}: opt {declared} vs table {table}")
    assert not disagreeing, disagreeing


def test_rules_table_names_only_existing_routes() -> None:
    served = {(m, p) for m, p, _ in ROUTES}
    stale = [f"{m} {p}" for m, p in ROUTE_RULES if (m, p) not in served]
    assert not stale, f"rules for routes the app does not serve: {stale}"


def test_only_probes_and_the_schema_are_public() -> None:
    public = {p for m, p, opt in ROUTES if m != "OPTIONS" and _rule(m, p, opt).public}
    unexpected = sorted(p for p in public if not EXPECTED_PUBLIC.match(p))
    assert not unexpected, f"routes open to anonymous callers: {unexpected}"
    assert {"/health", "/ready", "/metrics"} <= public


def test_contract_table_holds() -> None:
    expectations = {
        ("POST", "/v1/exceptions"): {Role.WORKFLOW},
        ("GET", "/v1/audit"): {Role.COMPLIANCE},
        ("GET", "/v1/audit/export"): {Role.COMPLIANCE},
        ("POST", "/v1/cases/{case_id}/decisions"): {Role.AGENT, Role.SUPERVISOR},
    }
    for (method, path), roles in expectations.items():
        assert _rule(method, path, {}).roles == roles, (method, path)
    for (method, path), rule in ROUTE_RULES.items():
        if method != "GET" and not rule.public:
            assert Role.COMPLIANCE not in rule.roles, (
                f"compliance must never change anything: {method} {path}"
            )


# --- the matrix over the running app ------------------------------------------------------------------


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    with live_app(tmp_path_factory.mktemp("matrix")) as app:
        yield app


@pytest.fixture(scope="module")
def case_id(env: LiveApp) -> str:
    event = make_event().model_dump(mode="json")
    response = env.client.post("/v1/exceptions", json=event, headers=env.auth(Role.WORKFLOW))
    assert response.status_code == 201, response.text
    return str(response.json()["case_id"])


def _concrete(path: str, case_id: str) -> str:
    values = {"{case_id}": case_id, "{delivery_id}": "1"}
    return re.sub(r"\{[^}]+\}", lambda m: values.get(m.group(0), "x"), path)


def _call(env: LiveApp, method: str, path: str, case_id: str, headers: dict[str, str]) -> Any:
    url = _concrete(path, case_id)
    # Empty bodies: enough to get past authorization, never enough to change anything.
    body: dict[str, Any] | None = {} if method in {"POST", "PUT", "PATCH"} else None
    return env.client.request(method, url, json=body, headers=headers)


@pytest.mark.parametrize("caller", CALLERS, ids=str)
@pytest.mark.parametrize(("method", "path", "opt"), PROTECTED, ids=[f"{m} {p}" for m, p, _ in PROTECTED])
def test_route_by_caller(
    env: LiveApp, case_id: str, method: str, path: str, opt: dict[str, Any], caller: Role | str
) -> None:
    rule = _rule(method, path, opt)
    if caller == "no_key":
        headers: dict[str, str] = {}
    elif caller == "revoked_key":
        headers = {"Authorization": f"Bearer {env.revoked_token}"}
    else:
        headers = env.auth(Role(caller))
    response = _call(env, method, path, case_id, headers)
    assert response.status_code < 500, response.text
    if caller in {"no_key", "revoked_key"}:
        assert response.status_code == 401, response.text
        assert response.headers["content-type"].startswith(PROBLEM_JSON)
    elif rule.allows(Role(caller)):
        assert response.status_code not in {401, 403}, response.text
    else:
        assert response.status_code == 403, response.text
        assert response.headers["content-type"].startswith(PROBLEM_JSON)
        assert caller in response.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path", "opt"),
    [r for r in ROUTES if EXPECTED_PUBLIC.match(r[1]) and r[0] in {"GET", "HEAD"}],
)
def test_public_routes_need_no_key(env: LiveApp, method: str, path: str, opt: dict[str, Any]) -> None:
    """Reading a public route needs no key (the desk's sign-in and sign-out forms also need a CSRF token)."""
    if "{" in path:
        pytest.skip("a schema viewer asset path")
    response = env.client.request(method, path)
    assert response.status_code < 400, (method, path, response.status_code)


def test_denials_are_audited_with_the_subject(env: LiveApp, case_id: str) -> None:
    key = env.new_key(Role.WORKFLOW, "nosy-workflow")
    assert env.client.get("/v1/audit", headers={"Authorization": f"Bearer {key}"}).status_code == 403
    response = env.client.get(
        "/v1/audit", params={"actor": "nosy-workflow", "limit": 50}, headers=env.auth(Role.COMPLIANCE)
    )
    assert response.status_code == 200, response.text
    records = [r for r in response.json()["items"] if r.get("action") == "access.denied"]
    assert records, response.json()
    assert records[-1]["actor_subject"] == "nosy-workflow"
    assert "GET /v1/audit" in str(records[-1])


def test_revoked_key_refusal_is_audited(env: LiveApp) -> None:
    key = env.key_service.create(Role.COMPLIANCE, "leaver")
    assert env.client.get("/v1/model", headers={"Authorization": f"Bearer {key.key}"}).status_code == 200
    env.key_service.revoke(key.key_id)
    response = env.client.get("/v1/model", headers={"Authorization": f"Bearer {key.key}"})
    assert response.status_code == 401 and "revoked" in response.json()["detail"]
    audit = env.client.get("/v1/audit", params={"actor": "leaver"}, headers=env.auth(Role.COMPLIANCE))
    assert any(r.get("action") == "access.denied" for r in audit.json()["items"]), audit.json()


def test_garbage_credentials_are_401_not_5xx(env: LiveApp) -> None:
    for value in [
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer a.b.c",
        "Bearer " + "x" * 10_000,
        "trk_",
    ]:
        response = env.client.get("/v1/model", headers={"Authorization": value})
        assert response.status_code == 401, (value[:20], response.status_code)


def test_agent_sees_only_their_teams_cases(env: LiveApp, case_id: str) -> None:
    case = env.client.get(f"/v1/cases/{case_id}", headers=env.auth(Role.SUPERVISOR)).json()
    outsider = env.new_key(Role.AGENT, "outsider", teams=("no-such-team",))
    response = env.client.get(f"/v1/cases/{case_id}", headers={"Authorization": f"Bearer {outsider}"})
    assert response.status_code in {403, 404}, f"an agent outside {case['owner_team']} read the case"
    listing = env.client.get("/v1/cases", headers={"Authorization": f"Bearer {outsider}"})
    assert listing.status_code == 200
    assert case_id not in listing.text
    queue = env.client.get("/v1/reviews", headers={"Authorization": f"Bearer {outsider}"})
    assert queue.status_code == 200
    assert case_id not in queue.text


# --- object-level authorization: every route that takes a case id, by callers outside the case's team ------

ID_ROUTES = [(m, p, opt) for m, p, opt in PROTECTED if "{case_id}" in p and p.startswith("/v1/")]
"""The API's case routes; the desk's pages behind the same services are checked by tests/browser."""


def _draft_id(env: LiveApp, case_id: str) -> str:
    case = env.client.get(f"/v1/cases/{case_id}", headers=env.auth(Role.SUPERVISOR)).json()
    return str(case["drafts"]["customer_update"]["item_id"])


def _valid_body(env: LiveApp, method: str, path: str, case_id: str) -> dict[str, Any] | None:
    """A body that the case's own team would get accepted, so only the team check can refuse it."""
    if method == "GET":
        return None
    if path.endswith("/resolution"):
        return {"outcome": "resolved", "resolution_action": "propose_transfer", "resolution": "Moved 6 units"}
    if path.endswith("/relabel"):
        return {"label": "carrier_failure", "reason": "probe", "expected_version": 1}
    if path.endswith("/approve-all"):
        return None
    if path.endswith("/check"):
        return {"text": "We are checking another warehouse for you."}
    if path.endswith("/decisions"):
        case = env.client.get(f"/v1/cases/{case_id}", headers=env.auth(Role.SUPERVISOR)).json()
        pending = [r for r in case["recommendations"] if r["status"] == "pending_review"]
        item = pending[0] if pending else case["drafts"]["summary"]
        item_id = item.get("id") or item.get("item_id")
        return {"item_id": item_id, "expected_version": 1, "decision": "reject", "reason": "probe"}
    raise AssertionError(
        f"{method} {path} takes a case id: add a valid body here so its team check is tested"
    )


@pytest.mark.parametrize("outsider_teams", [("no-such-team",), ()], ids=["other_team", "no_team"])
@pytest.mark.parametrize(("method", "path", "opt"), ID_ROUTES, ids=[f"{m} {p}" for m, p, _ in ID_ROUTES])
def test_an_agent_outside_the_case_team_gets_404_on_every_id_route(
    env: LiveApp, method: str, path: str, opt: dict[str, Any], outsider_teams: tuple[str, ...]
) -> None:
    if not _rule(method, path, opt).allows(Role.AGENT):
        pytest.skip("agents may not call this route at all (the role matrix covers it)")
    event = make_event().model_dump(mode="json")
    created = env.client.post("/v1/exceptions", json=event, headers=env.auth(Role.WORKFLOW))
    case_id = created.json()["case_id"]
    before = env.client.get(f"/v1/cases/{case_id}", headers=env.auth(Role.SUPERVISOR)).json()
    outsider = env.new_key(Role.AGENT, f"outsider-{len(outsider_teams)}", teams=outsider_teams)

    body = _valid_body(env, method, path, case_id)
    url = _concrete(path, case_id).replace("/x/check", f"/{_draft_id(env, case_id)}/check")
    response = env.client.request(method, url, json=body, headers={"Authorization": f"Bearer {outsider}"})

    assert response.status_code == 404, (method, path, response.status_code, response.text)
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    after = env.client.get(f"/v1/cases/{case_id}", headers=env.auth(Role.SUPERVISOR)).json()
    assert after == before, "a refused call changed the case"
