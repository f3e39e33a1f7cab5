"""The policy is data that operations own: shadow mode acts on nothing, and a changed threshold changes decisions
after a reload (no restart), with the reload in the audit log; an invalid file never replaces a valid one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.live_app import ADMIN, AGENT, COMPLIANCE, WORKFLOW, LiveApp, live_app

pytestmark = pytest.mark.slow  # starts a live app on a bootstrapped home

POLICY = Path("guardrails/policy.yaml")
TEST_CASES = Path("eval/datasets/order_exceptions/test.jsonl")


def events(n: int, prefix: str) -> list[dict[str, Any]]:
    with TEST_CASES.open(encoding="utf-8") as handle:
        rows = [json.loads(line)["event"] for _, line in zip(range(n), handle, strict=False)]
    for i, event in enumerate(rows):
        event["event_id"] = f"{prefix}-{i:04d}"
    return rows


@pytest.fixture(scope="module")
def policy_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("policy") / "policy.yaml"
    data = yaml.safe_load(POLICY.read_text(encoding="utf-8"))
    data["defaults"]["mode"] = "shadow"
    for category in data["categories"].values():
        category.pop("mode", None)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, policy_file: Path) -> Iterator[LiveApp]:
    with live_app(tmp_path_factory.mktemp("governed"), policy_file=policy_file) as app:
        yield app


def rewrite(path: Path, change: Any) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")


def test_shadow_mode_records_predictions_and_changes_nothing(env: LiveApp) -> None:
    cases = [
        env.client.post("/v1/exceptions", json=e, headers=env.auth(WORKFLOW)).json()
        for e in events(3, "SHADOW")
    ]
    for case in cases:
        assert case["gate"]["mode"] == "shadow"
        assert case["gate"]["decision"] != "auto_approved"
        assert case["classification"]["label"]
        statuses = {r["status"] for r in case["recommendations"]}
        statuses |= {case["drafts"][k]["status"] for k in ("summary", "customer_update")}
        assert statuses == {"shadow"}
    queue = env.client.get("/v1/reviews", headers=env.auth(AGENT)).json()
    queued_cases = {item["case_id"] for item in queue["items"]}
    assert not queued_cases & {c["case_id"] for c in cases}
    audit = env.client.get("/v1/audit", params={"case_id": cases[0]["case_id"]}, headers=env.auth(COMPLIANCE))
    actions = [r["action"] for r in audit.json()["items"]]
    assert "case.classified" in actions and "item.shadow" in actions


def test_a_threshold_change_applies_after_reload_and_is_audited(env: LiveApp, policy_file: Path) -> None:
    before = env.client.get("/v1/policy", headers=env.auth(ADMIN)).json()["version"]

    def recommend_and_abstain_everything(data: dict[str, Any]) -> None:
        data["defaults"]["mode"] = "recommend"
        data["defaults"]["thresholds"] = {"auto": 1.0, "review": 1.0}
        for category in data["categories"].values():
            category.pop("thresholds", None)

    rewrite(policy_file, recommend_and_abstain_everything)
    reloaded = env.client.post("/v1/policy/reload", headers=env.auth(ADMIN))
    assert reloaded.status_code == 200, reloaded.text
    after = reloaded.json()["version"]
    assert after != before

    case = env.client.post("/v1/exceptions", json=events(4, "RELOADED")[3], headers=env.auth(WORKFLOW)).json()
    assert case["versions"]["policy"] == after
    assert case["gate"]["mode"] == "recommend"
    assert case["classification"]["abstained"] is True
    assert any("thresholds" in r["rule"] for r in case["gate"]["reasons"])

    audit = env.client.get(
        "/v1/audit", params={"action": "policy.reloaded"}, headers=env.auth(COMPLIANCE)
    ).json()
    reloads = [r for r in audit["items"] if r["action"] == "policy.reloaded"]
    assert reloads and reloads[-1]["details"] == {"before": before, "after": after}


def test_an_invalid_policy_file_never_replaces_the_valid_one(env: LiveApp, policy_file: Path) -> None:
    in_force = env.client.get("/v1/policy", headers=env.auth(ADMIN)).json()["version"]
    valid_text = policy_file.read_text(encoding="utf-8")
    rewrite(policy_file, lambda data: data["defaults"].update(thresholds={"auto": 0.2, "review": 0.9}))
    try:
        refused = env.client.post("/v1/policy/reload", headers=env.auth(ADMIN))
        assert refused.status_code == 422, refused.text
        assert "stays in force" in refused.json()["detail"]
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert env.client.get("/v1/policy", headers=env.auth(ADMIN)).json()["version"] == in_force
    finally:
        policy_file.write_text(valid_text, encoding="utf-8")
    audit = env.client.get(
        "/v1/audit", params={"action": "policy.reload_refused"}, headers=env.auth(COMPLIANCE)
    )
    assert any(r["action"] == "policy.reload_refused" for r in audit.json()["items"])
