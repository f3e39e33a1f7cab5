"""The whole pipeline over HTTP on the real app: classify → retrieve → draft → check → gate → persist → audit."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.live_app import AGENT, COMPLIANCE, SUPERVISOR, WORKFLOW, LiveApp, live_app

pytestmark = pytest.mark.slow  # starts a live app on a bootstrapped home

TEST_CASES = Path("eval/datasets/order_exceptions/test.jsonl")


def shipped_test_events(n: int) -> list[dict[str, Any]]:
    with TEST_CASES.open(encoding="utf-8") as handle:
        return [json.loads(line)["event"] for _, line in zip(range(n), handle, strict=False)]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    with live_app(tmp_path_factory.mktemp("flow")) as app:
        yield app


def post(env: LiveApp, body: Any, **params: Any) -> Any:
    return env.client.post("/v1/exceptions", json=body, params=params, headers=env.auth(WORKFLOW))


def test_probes_and_model_versions(env: LiveApp) -> None:
    assert env.client.get("/health").json() == {"status": "ok"}
    ready = env.client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["components"]["model"]["ok"] is True
    model = env.client.get("/v1/model", headers=env.auth(WORKFLOW)).json()
    assert model["embedding_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert "inventory_shortage" in model["labels"]
    assert env.client.get("/schema/openapi.json").status_code == 200


def test_a_shipped_case_is_triaged_with_evidence_drafts_and_versions(env: LiveApp) -> None:
    event = shipped_test_events(1)[0]
    response = post(env, event)
    assert response.status_code == 201, response.text
    case = response.json()
    assert case["event_id"] == event["event_id"]
    classification = case["classification"]
    assert 0.0 <= classification["confidence"] <= 1.0
    assert len(classification["alternatives"]) == 3
    assert classification["alternatives"][0]["label"] == classification["label"]
    assert len(case["similar_cases"]) == 5
    assert all(0 < s["score"] <= 1.0001 and s["resolution"] for s in case["similar_cases"])
    predicted = case["predicted_resolution"]
    assert predicted is not None and predicted["support"] >= 0 and predicted["total_weight"] > 0
    drafts = case["drafts"]
    for kind in ("summary", "customer_update"):
        assert drafts[kind]["generator"] == "template"
        assert drafts[kind]["text"]
        assert drafts[kind]["findings"] == []
    assert (
        drafts["customer_update"]["status"] != "auto_approved" or case["gate"]["decision"] == "auto_approved"
    )
    assert set(case["versions"]) >= {"model", "policy", "prompts"}
    assert all(case["versions"][k] for k in ("model", "policy", "prompts"))
    assert case["degraded"] == []
    assert case["gate"]["decision"] in {"auto_approved", "needs_review", "blocked"}
    assert case["gate"]["reasons"], "every gate decision carries its reasons"


def test_replay_and_conflict(env: LiveApp) -> None:
    event = shipped_test_events(2)[1]
    first = post(env, event)
    again = post(env, event)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    changed = copy.deepcopy(event)
    changed["description"] = changed["description"] + " (amended)"
    conflict = post(env, changed)
    assert conflict.status_code == 409
    assert conflict.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda e: e.update(description=" \t "), "description"),
        (lambda e: e["order"]["lines"][0].update(quantity_ordered=-5), "quantity_ordered"),
        (lambda e: e.update(surprise="field"), "surprise"),
        (lambda e: e["order"].update(promised_date="1999-01-01"), "order"),
    ],
)
def test_bad_events_are_422_problems_naming_the_field(env: LiveApp, mutate: Any, field: str) -> None:
    event = copy.deepcopy(shipped_test_events(1)[0])
    mutate(event)
    response = post(env, event)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 422
    assert any(field in (err.get("field") or "") for err in body["errors"]) or field in body["detail"]


def test_non_utf8_and_oversize_bodies_are_4xx(env: LiveApp) -> None:
    headers = {**env.auth(WORKFLOW), "Content-Type": "application/json"}
    garbage = env.client.post("/v1/exceptions", content=b'{"event_id": "\xff\xfe"}', headers=headers)
    assert 400 <= garbage.status_code < 500
    assert "Traceback" not in garbage.text
    event = shipped_test_events(1)[0]
    event["description"] = "x" * 1_000_000
    huge = post(env, event)
    assert huge.status_code in (413, 422)


def test_resolution_feeds_the_history(env: LiveApp) -> None:
    events = shipped_test_events(40)
    event = copy.deepcopy(events[5])
    event["event_id"] = "EVT-FEEDBACK-0001"
    event["description"] = (
        "Zebra-striped pallet wrap tore in lane 7; SKU 77-QQ-ZEBRA quarantined, 12 cartons crushed"
    )
    case = post(env, event).json()
    body = {
        "outcome": "resolved",
        "resolution_action": "manual_triage",
        "resolution": "Re-wrapped the zebra pallet and re-shipped 12 cartons of 77-QQ-ZEBRA.",
        "hours_to_resolve": 3.5,
    }
    url = f"/v1/cases/{case['case_id']}/resolution"
    first = env.client.post(url, json=body, headers=env.auth(WORKFLOW))
    assert first.status_code == 201, first.text
    assert env.client.post(url, json=body, headers=env.auth(WORKFLOW)).status_code == 200
    other = {**body, "outcome": "escalated"}
    assert env.client.post(url, json=other, headers=env.auth(WORKFLOW)).status_code == 409
    missing = env.client.post("/v1/cases/case_nope/resolution", json=body, headers=env.auth(WORKFLOW))
    assert missing.status_code == 404

    near = copy.deepcopy(event)
    near["event_id"] = "EVT-FEEDBACK-0002"
    near["description"] = (
        "Zebra-striped pallet wrap torn in lane 7, SKU 77-QQ-ZEBRA quarantined; 12 cartons crushed"
    )
    found = post(env, near).json()
    assert case["case_id"] in [s["case_id"] for s in found["similar_cases"]]


def test_retrieval_outage_degrades_and_never_auto_approves(env: LiveApp) -> None:
    connection = env.services.connection
    assert connection.store is not None
    connection.store.close()  # the store object stays in place, and every call to it fails
    try:
        event = shipped_test_events(60)[50]
        event["event_id"] = "EVT-DEGRADED-0001"
        case = post(env, event).json()
    finally:
        connection.close()
        assert connection.reconnect()
    assert case["similar_cases"] == []
    assert "retrieval" in case["degraded"]
    assert case["gate"]["decision"] != "auto_approved"
    assert all(r["status"] != "auto_approved" for r in case["recommendations"])


def test_the_audit_log_tells_the_whole_story(env: LiveApp) -> None:
    event = shipped_test_events(80)[70]
    case = post(env, event).json()
    page = env.client.get("/v1/audit", params={"case_id": case["case_id"]}, headers=env.auth(COMPLIANCE))
    assert page.status_code == 200, page.text
    records = page.json()["items"]
    actions = [r["action"] for r in records]
    for expected in ("case.received", "case.classified", "case.retrieved", "case.drafted", "case.gated"):
        assert expected in actions
    classified = next(r for r in records if r["action"] == "case.classified")
    assert classified["model_version"] == case["versions"]["model"]
    assert classified["policy_version"] == case["versions"]["policy"]
    assert classified["confidence"] is not None and classified["threshold"] is not None
    retrieved = next(r for r in records if r["action"] == "case.retrieved")
    assert retrieved["neighbour_ids"] == [s["case_id"] for s in case["similar_cases"]]
    verify = env.client.get("/v1/audit/verify", headers=env.auth(COMPLIANCE)).json()
    assert verify["ok"] is True
    assert env.client.get("/v1/audit", headers=env.auth(AGENT)).status_code == 403


def _pending_draft(env: LiveApp, event_id: str) -> tuple[str, str]:
    event = shipped_test_events(120)[110]
    event["event_id"] = event_id
    case = post(env, event).json()
    item_id = case["drafts"]["customer_update"]["item_id"]
    assert case["drafts"]["customer_update"]["status"] == "pending_review"
    return case["case_id"], item_id


def test_an_agent_cannot_decide_another_teams_item(env: LiveApp) -> None:
    case_id, item_id = _pending_draft(env, "EVT-OTHER-TEAM-0001")
    outsider = env.new_key(AGENT, "agent-of-nowhere", ("no_such_team",))
    body = {"item_id": item_id, "expected_version": 1, "decision": "approve"}
    refused = env.client.post(
        f"/v1/cases/{case_id}/decisions", json=body, headers={"Authorization": f"Bearer {outsider}"}
    )
    assert refused.status_code == 404, refused.text
    assert (
        env.client.get(f"/v1/cases/{case_id}", headers={"Authorization": f"Bearer {outsider}"}).status_code
        == 404
    )


def test_a_resolved_cases_items_are_closed(env: LiveApp) -> None:
    case_id, item_id = _pending_draft(env, "EVT-RESOLVED-0001")
    resolution = {
        "outcome": "resolved",
        "resolution_action": "manual_triage",
        "resolution": "Handled by phone.",
    }
    assert (
        env.client.post(
            f"/v1/cases/{case_id}/resolution", json=resolution, headers=env.auth(WORKFLOW)
        ).status_code
        == 201
    )
    body = {"item_id": item_id, "expected_version": 1, "decision": "approve"}
    late = env.client.post(f"/v1/cases/{case_id}/decisions", json=body, headers=env.auth(AGENT))
    assert late.status_code == 409, late.text
    queue = env.client.get("/v1/reviews", params={"limit": 200}, headers=env.auth(AGENT)).json()
    assert item_id not in {item["item_id"] for item in queue["items"]}


def test_a_case_carries_an_etag_and_if_none_match_answers_304(env: LiveApp) -> None:
    event = shipped_test_events(90)[85]
    case = post(env, event).json()
    url = f"/v1/cases/{case['case_id']}"
    first = env.client.get(url, headers=env.auth(WORKFLOW))
    etag = first.headers["etag"]
    assert first.json()["version"] == 1 and first.json()["updated_at"]
    unchanged = env.client.get(url, headers=env.auth(WORKFLOW) | {"If-None-Match": etag})
    assert unchanged.status_code == 304 and not unchanged.content
    body = {"outcome": "resolved", "resolution_action": "propose_transfer", "resolution": "Moved stock"}
    assert env.client.post(f"{url}/resolution", json=body, headers=env.auth(WORKFLOW)).status_code == 201
    changed = env.client.get(url, headers=env.auth(WORKFLOW) | {"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    resolved = changed.json()
    assert resolved["status"] == "resolved" and resolved["resolution"]["resolved_by"] == "test-workflow"


def test_updated_since_lists_only_cases_changed_since(env: LiveApp) -> None:
    case = post(env, shipped_test_events(95)[91]).json()
    since = case["updated_at"]
    listed = env.client.get("/v1/cases", params={"updated_since": since}, headers=env.auth(WORKFLOW)).json()
    assert case["case_id"] in [c["case_id"] for c in listed["items"]]
    later = env.client.get(
        "/v1/cases", params={"updated_since": "2099-01-01T00:00:00Z"}, headers=env.auth(WORKFLOW)
    ).json()
    assert later["items"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"status": "bogus"},
        {"label": "not_a_label"},
        {"team": "nobody"},
        {"updated_since": "2026-05-01T08:00:00"},
    ],
)
def test_unknown_filter_values_are_422(env: LiveApp, params: dict[str, str]) -> None:
    response = env.client.get("/v1/cases", params=params, headers=env.auth(WORKFLOW))
    assert response.status_code == 422, (params, response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/problem+json")


def test_the_workflow_hears_decisions_through_the_case_and_the_feed(env: LiveApp) -> None:
    start = env.client.get("/v1/events", headers=env.auth(WORKFLOW)).json()
    cursor = start["next_cursor"]
    while start["items"]:
        start = env.client.get("/v1/events", params={"after": cursor}, headers=env.auth(WORKFLOW)).json()
        cursor = start["next_cursor"]
    case = post(env, shipped_test_events(99)[97]).json()
    draft = case["drafts"]["customer_update"]
    if draft["status"] != "pending_review":
        pytest.skip("this case's customer update needs no review")
    body = {"item_id": draft["item_id"], "expected_version": 1, "decision": "reject", "reason": "wrong ETA"}
    decided = env.client.post(f"/v1/cases/{case['case_id']}/decisions", json=body, headers=env.auth(AGENT))
    assert decided.status_code == 201, decided.text

    seen = env.client.get(f"/v1/cases/{case['case_id']}", headers=env.auth(WORKFLOW)).json()
    assert seen["decisions"][0]["reason"] == "wrong ETA" and seen["decisions"][0]["decision"] == "reject"
    feed = env.client.get(
        "/v1/events", params={"after": cursor, "wait": 1}, headers=env.auth(WORKFLOW)
    ).json()
    types = [e["type"] for e in feed["items"] if e["subject"] == case["case_id"]]
    assert types[:2] == ["case.triaged", "item.rejected"]
    rejected = next(e for e in feed["items"] if e["type"] == "item.rejected")
    assert rejected["data"]["reason"] == "wrong ETA" and rejected["specversion"] == "1.0"


def test_relabelling_reworks_the_case_for_the_new_category(env: LiveApp) -> None:
    case = post(env, shipped_test_events(120)[110]).json()
    old_label = case["classification"]["label"]
    new_label = next(label for label in ("credit_hold", "carrier_failure") if label != old_label)
    url = f"/v1/cases/{case['case_id']}/relabel"
    body = {"label": new_label, "reason": "the carrier lost the pallet", "expected_version": case["version"]}
    supervisor = env.auth(SUPERVISOR)

    assert (
        env.client.post(url, json={**body, "label": "no_such_label"}, headers=supervisor).status_code == 422
    )
    relabelled = env.client.post(url, json=body, headers=supervisor)
    assert relabelled.status_code == 200, relabelled.text
    after = relabelled.json()
    assert after["classification"]["label"] == new_label and after["version"] == case["version"] + 1
    assert after["owner_team"] != case["owner_team"] or new_label == "credit_hold"
    statuses = {r["status"] for r in after["recommendations"]} | {
        after["drafts"][k]["status"] for k in ("summary", "customer_update")
    }
    assert "auto_approved" not in statuses
    assert env.client.post(url, json=body, headers=supervisor).status_code in {409, 422}

    audit = env.client.get(
        "/v1/audit",
        params={"case_id": case["case_id"], "action": "case.relabelled"},
        headers=env.auth(COMPLIANCE),
    ).json()["items"]
    assert (
        audit
        and audit[0]["reason"] == "the carrier lost the pallet"
        and audit[0]["before"]["label"] == old_label
    )


def test_a_novel_case_is_shown_as_such_never_auto_approved_and_counted_as_drift(env: LiveApp) -> None:
    familiar = shipped_test_events(1)[0]
    novel = copy.deepcopy(familiar) | {"event_id": "EVT-NOVEL-0001", "exception_code": None}
    novel["description"] = (
        "Minutes of the garden club: roses pruned, new compost bins, next meeting in spring."
    )
    first = post(env, familiar).json()["classification"]
    assert first["novelty"] is not None and first["novel"] is False
    case = post(env, novel).json()
    classification = case["classification"]
    assert classification["novel"] is True
    assert classification["novelty"] >= classification["novelty_threshold"] > first["novelty"]
    assert case["gate"]["decision"] != "auto_approved"
    assert all(
        item["status"] != "auto_approved" for item in case["recommendations"] + list(case["drafts"].values())
    )
    assert any(r["rule"] == "novelty.review_novel" for r in case["gate"]["reasons"])
    stored = env.client.get(f"/v1/cases/{case['case_id']}", headers=env.auth(SUPERVISOR)).json()
    assert stored["classification"]["novel"] is True
    dashboard = env.client.get("/v1/dashboard", headers=env.auth(SUPERVISOR)).json()
    weeks = [w for w in dashboard["novelty_by_week"] if w["category"] == classification["label"]]
    assert weeks and sum(w["novel"] for w in weeks) >= 1 and all(0 <= w["share"] <= 1 for w in weeks)
    metrics = env.client.get("/metrics").text
    assert f'triage_classified_total{{category="{classification["label"]}",novel="true"}}' in metrics
