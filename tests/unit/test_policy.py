"""Policy file: validation, version hash, the store's reload, and `triage policy check`."""

from __future__ import annotations

import argparse
from decimal import Decimal
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml

from triage.commands import policy as policy_command
from triage.config import Settings
from triage.core.errors import ConfigurationError
from triage.engines.drafting.models import DraftKind
from triage.engines.policy.gate import GateInput, evaluate_gate
from triage.engines.policy.loader import PolicyStore, cross_check, load_policy
from triage.engines.policy.models import DRAFT_KINDS
from triage.engines.policy.taxonomy import load_taxonomy

ROOT = Path(__file__).resolve().parents[2]
POLICY_FILE = ROOT / "guardrails" / "policy.yaml"
TAXONOMY_FILE = ROOT / "guardrails" / "taxonomy.yaml"


def shipped() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(POLICY_FILE.read_text(encoding="utf-8"))
    return data


def write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def confident_case(confidence: float) -> GateInput:
    return GateInput(
        label="incomplete_order_data",
        confidence=confidence,
        second_confidence=0.0,
        severity="low",
        order_value=Decimal(100),
        currency="USD",
        customer_tier="standard",
        neighbours=3,
        predicted_action=None,
        predicted_confidence=None,
    )


def test_shipped_policy_is_valid_and_consistent_with_the_taxonomy() -> None:
    policy = load_policy(POLICY_FILE, load_taxonomy(TAXONOMY_FILE))
    errors, warnings = cross_check(policy, load_taxonomy(TAXONOMY_FILE))
    assert errors == []
    assert warnings == []
    assert len(policy.version_hash) == 64
    assert policy.category("incomplete_order_data").mode.value == "auto"
    assert policy.category("credit_hold").mode.value == "recommend"
    assert not any(rule.auto_allowed for rule in policy.category("credit_hold").actions.values())
    assert not policy.category("shipment_delay").drafts["customer_update"].auto_allowed


def test_version_is_a_content_hash_that_ignores_comments(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    original = load_policy(path).version_hash
    path.write_text("# a new comment\n" + POLICY_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    assert load_policy(path).version_hash == original
    data = shipped()
    data["defaults"]["thresholds"]["auto"] = 0.91
    assert load_policy(write(path, data)).version_hash != original


def test_reload_applies_a_changed_threshold_without_restart(tmp_path: Path) -> None:
    path = write(tmp_path / "policy.yaml", shipped())
    store = PolicyStore(path, load_taxonomy(TAXONOMY_FILE))
    before = store.version
    assert evaluate_gate(store.current, confident_case(0.93)).decision == "auto_approved"
    assert store.reload() is False

    data = shipped()
    data["categories"]["incomplete_order_data"]["thresholds"] = {"auto": 0.95}
    write(path, data)
    assert store.reload() is True
    assert store.version != before
    assert store.current.version_hash == store.version
    result = evaluate_gate(store.current, confident_case(0.93))
    assert result.decision == "needs_review"
    assert result.threshold == 0.95


def test_invalid_file_leaves_the_old_policy_in_force(tmp_path: Path) -> None:
    path = write(tmp_path / "policy.yaml", shipped())
    store = PolicyStore(path, taxonomy_file=TAXONOMY_FILE)
    before = store.current
    data = shipped()
    data["defaults"]["thresholds"]["auto"] = 1.5
    write(path, data)
    with pytest.raises(ConfigurationError, match=r"defaults\.thresholds\.auto"):
        store.reload()
    assert store.current is before

    data = shipped()
    data["categories"]["credit_hold"]["actions"]["launch_rocket"] = {"risk": "low", "approver_role": "agent"}
    write(path, data)
    with pytest.raises(ConfigurationError, match="launch_rocket"):
        store.reload()
    path.write_text("defaults: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="invalid YAML"):
        store.reload()
    assert store.current is before


def test_store_refuses_to_start_on_an_invalid_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no such file"):
        PolicyStore(tmp_path / "missing.yaml")


def _break(data: dict[str, Any], how: str) -> None:
    categories = data["categories"]
    if how == "unknown_category":
        categories["teleportation"] = {"actions": {}}
    elif how == "unknown_action":
        categories["shipment_delay"]["actions"]["teleport"] = {"risk": "low", "approver_role": "agent"}
    elif how == "threshold_out_of_range":
        categories["credit_hold"]["thresholds"] = {"auto": 1.2, "review": 0.6}
    elif how == "auto_below_review":
        categories["credit_hold"]["thresholds"] = {"auto": 0.5, "review": 0.6}
    elif how == "override_makes_auto_below_review":
        categories["credit_hold"]["thresholds"] = {"review": 0.95, "auto": None}
        categories["pricing_discrepancy"]["thresholds"] = {"review": 0.92}
    elif how == "unknown_key":
        data["defaults"]["auto_alowed"] = True
    elif how == "high_risk_auto":
        categories["credit_hold"]["actions"]["request_credit_release"]["auto_allowed"] = True
    elif how == "unknown_role":
        categories["credit_hold"]["actions"]["route_to_finance"]["approver_role"] = "intern"
    elif how == "missing_sla":
        del data["review_slas"]["critical"]
    elif how == "default_action_not_in_catalogue":
        categories["other"]["default_actions"] = ["rebook_carrier"]
    else:
        raise AssertionError(how)


@pytest.fixture
def check(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    settings = Settings(policy_file=POLICY_FILE, taxonomy_file=TAXONOMY_FILE)
    monkeypatch.setattr(policy_command, "get_settings", lambda: settings)

    def run(file: Path | None) -> tuple[int, str, str]:
        code = policy_command.run_policy_check(argparse.Namespace(file=file))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_policy_check_accepts_the_shipped_file(check: Any) -> None:
    code, out, err = check(None)
    assert code == 0
    assert "valid" in out
    assert "incomplete_order_data: mode auto" in out
    assert err == ""


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("unknown_category", "categories.teleportation: not a taxonomy category"),
        ("unknown_action", "categories.shipment_delay.actions.teleport: not an action of shipment_delay"),
        (
            "threshold_out_of_range",
            "policy.yaml: categories.credit_hold.thresholds.auto: Input should be less than or equal to 1 "
            "(got 1.2)",
        ),
        (
            "auto_below_review",
            "policy.yaml: categories.credit_hold.thresholds.auto: 0.5 must be >= review (0.6,",
        ),
        (
            "override_makes_auto_below_review",
            "policy.yaml: categories.pricing_discrepancy.thresholds.auto: 0.9 must be >= review (0.92",
        ),
        ("unknown_key", "policy.yaml: defaults.auto_alowed: Extra inputs are not permitted"),
        (
            "high_risk_auto",
            "policy.yaml: categories.credit_hold.actions.request_credit_release.auto_allowed: "
            "a high-risk action cannot have auto_allowed: true",
        ),
        (
            "unknown_role",
            "policy.yaml: categories.credit_hold.actions.route_to_finance.approver_role: Input should be",
        ),
        ("missing_sla", "policy.yaml: review_slas: must name exactly the severities"),
        (
            "default_action_not_in_catalogue",
            "policy.yaml: categories.other.default_actions: not in this category's actions: rebook_carrier",
        ),
    ],
)
def test_policy_check_rejects_bad_files_readably(check: Any, tmp_path: Path, how: str, message: str) -> None:
    data = shipped()
    _break(data, how)
    code, out, err = check(write(tmp_path / "policy.yaml", data))
    assert code == 2
    assert out == ""
    assert message in err


def test_every_problem_of_a_policy_file_is_one_line_naming_file_and_path(tmp_path: Path) -> None:
    data = shipped()
    _break(data, "override_makes_auto_below_review")
    _break(data, "missing_sla")
    path = write(tmp_path / "policy.yaml", data)
    with pytest.raises(ConfigurationError) as info:
        load_policy(path)
    assert info.value.detail.splitlines() == [
        f"{path}: review_slas: must name exactly the severities low, medium, high, critical; missing: critical",
        f"{path}: categories.credit_hold.thresholds.auto: 0.9 must be >= review (0.95, with defaults applied)",
        f"{path}: categories.pricing_discrepancy.thresholds.auto: 0.9 must be >= review (0.92, with defaults "
        "applied)",
    ]
    assert info.value.extra["problems"] == info.value.detail.splitlines()


def test_policy_cross_check_against_the_taxonomy_uses_the_same_format(tmp_path: Path) -> None:
    data = shipped()
    _break(data, "unknown_action")
    path = write(tmp_path / "policy.yaml", data)
    with pytest.raises(ConfigurationError) as info:
        load_policy(path, load_taxonomy(TAXONOMY_FILE))
    assert info.value.detail.startswith(
        f"{path}: categories.shipment_delay.actions.teleport: not an action of shipment_delay ("
    )


def test_policy_check_rejects_a_missing_or_malformed_file(check: Any, tmp_path: Path) -> None:
    assert check(tmp_path / "nope.yaml")[0] == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: [1\n", encoding="utf-8")
    code, _, err = check(bad)
    assert code == 2
    assert f"{bad}: line 2, column 1: invalid YAML" in err
    bad.write_text("- a list\n", encoding="utf-8")
    assert f"{bad}: (top level): expected a mapping, got a list" in check(bad)[2]


def test_the_policy_rules_exactly_the_kinds_of_draft_the_drafter_writes() -> None:
    assert set(DRAFT_KINDS) == set(get_args(DraftKind))
    assert set(load_policy(POLICY_FILE).category("other").drafts) == set(DRAFT_KINDS)
