"""The synthetic history generator and the shipped history files it produced."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from eval.generate_history import ACTIONS, LABEL_WEIGHTS, OUTCOMES, generate, main
from eval.history.labels import RULES, LabelRules, problems
from eval.history.labels.base import Case, Decision
from eval.history.parties import Customer
from triage.core.events import ExceptionEvent

ROOT = Path(__file__).resolve().parents[2]
DATASET = ROOT / "eval" / "datasets" / "order_exceptions"
TAXONOMY = ROOT / "guardrails" / "taxonomy.yaml"


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def small() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return generate(seed=3, n_history=300, n_test=90)


@pytest.fixture(scope="module")
def shipped() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return _read(DATASET / "history.jsonl"), _read(DATASET / "test.jsonl")


@pytest.fixture(scope="module")
def catalogue() -> dict[str, list[str]]:
    taxonomy = yaml.safe_load(TAXONOMY.read_text(encoding="utf-8"))
    return {label: spec["actions"] for label, spec in taxonomy["categories"].items()}


def test_same_seed_writes_byte_identical_files(tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        seed = "5" if name == "c" else "4"
        main(["--seed", seed, "--out", str(tmp_path / name), "--history", "60", "--test", "20"])
    for file in ("history.jsonl", "test.jsonl"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()
        assert (tmp_path / "a" / file).read_bytes() != (tmp_path / "c" / file).read_bytes()
    assert len((tmp_path / "a" / "history.jsonl").read_text().splitlines()) == 60


def test_shipped_files_are_what_seed_7_generates(
    shipped: tuple[list[dict[str, Any]], ...], tmp_path: Path
) -> None:
    history, test = shipped
    main(["--seed", "7", "--out", str(tmp_path), "--history", str(len(history)), "--test", str(len(test))])
    for file in ("history.jsonl", "test.jsonl"):
        assert (tmp_path / file).read_bytes() == (DATASET / file).read_bytes(), (
            f"{file} is stale; regenerate it"
        )


def test_shipped_files_have_the_promised_sizes(shipped: tuple[list[dict[str, Any]], ...]) -> None:
    history, test = shipped
    assert len(history) >= 3000
    assert len(test) >= 600


@pytest.mark.parametrize("which", ["small", "shipped"])
def test_every_event_validates(which: str, request: pytest.FixtureRequest) -> None:
    history, test = request.getfixturevalue(which)
    for row in [*history, *test]:
        ExceptionEvent.model_validate(row["event"])


@pytest.mark.parametrize("which", ["small", "shipped"])
def test_files_are_disjoint(which: str, request: pytest.FixtureRequest) -> None:
    history, test = request.getfixturevalue(which)
    ids = [row["event"]["event_id"] for row in [*history, *test]]
    assert len(ids) == len(set(ids))
    descriptions = {row["event"]["description"] for row in history}
    assert not descriptions & {row["event"]["description"] for row in test}


def test_every_label_present_with_at_least_4_percent(shipped: tuple[list[dict[str, Any]], ...]) -> None:
    for rows in shipped:
        counts = Counter(row["label"] for row in rows)
        assert set(counts) == set(LABEL_WEIGHTS)
        assert min(counts.values()) >= 0.04 * len(rows)


def test_generator_actions_match_the_taxonomy(catalogue: dict[str, list[str]]) -> None:
    assert {label: list(actions) for label, actions in ACTIONS.items()} == catalogue


def test_label_rules_draw_exactly_the_taxonomy_actions(catalogue: dict[str, list[str]]) -> None:
    actions = {label: tuple(names) for label, names in catalogue.items()}
    assert problems(RULES, actions) == []
    stray = {**RULES, "other": LabelRules(RULES["other"].decide, {"any": {"manual_triage": 1, "refund": 1}})}
    assert problems(stray, actions) == ["other: ['refund'] are not its taxonomy actions"]
    narrowed = {**actions, "credit_hold": ("route_to_finance",)}
    assert any("credit_hold" in problem for problem in problems(RULES, narrowed))


def test_a_case_refuses_an_action_outside_the_taxonomy() -> None:
    customer = Customer("C-1", "Acme", "key", "USD", "edi", retail=False)
    case = Case(random.Random(1), ("manual_triage",), customer, {}, {}, {}, "", {})
    assert case.pick({"manual_triage": 1}) == "manual_triage"
    with pytest.raises(ValueError, match="not in the taxonomy"):
        case.pick({"refund": 1})
    assert Decision("manual_triage").wording_key == "manual_triage"
    assert Decision("manual_triage", "manual_triage:none").wording_key == "manual_triage:none"


@pytest.mark.parametrize("which", ["small", "shipped"])
def test_each_case_is_well_formed(
    which: str, request: pytest.FixtureRequest, catalogue: dict[str, list[str]]
) -> None:
    history, test = request.getfixturevalue(which)
    for row in [*history, *test]:
        assert row["resolution_action"] in catalogue[row["label"]]
        assert row["outcome"] in OUTCOMES
        assert row["hours_to_resolve"] > 0
        assert row["resolved_at"].endswith("Z")
        resolved = datetime.fromisoformat(row["resolved_at"])
        assert resolved > datetime.fromisoformat(row["event"]["occurred_at"])
        assert row["resolution"].strip()


def test_resolutions_are_grounded_in_their_event(small: tuple[list[dict[str, Any]], ...]) -> None:
    rows = [*small[0], *small[1]]
    grounded = 0
    for row in rows:
        order = row["event"]["order"]
        facts = {order["order_id"], order["customer_id"], order["lines"][0]["sku"]}
        grounded += any(fact in row["resolution"] for fact in facts)
    assert grounded >= 0.95 * len(rows)


def test_some_cases_carry_personal_data_and_internal_facts(small: tuple[list[dict[str, Any]], ...]) -> None:
    events = [row["event"] for row in [*small[0], *small[1]]]
    messages = [e["customer_message"] for e in events if e.get("customer_message")]
    assert sum(bool(re.search(r"@[a-z]+\.example\b", m)) for m in messages) >= 10
    assert sum(bool(re.search(r"555-01\d\d", m)) for m in messages) >= 10
    internal = {"credit_limit", "exposure", "margin_pct", "internal_note"}
    assert sum(bool(internal & set(e["context"])) for e in events) >= 0.1 * len(events)


def test_history_precedes_test_in_time(small: tuple[list[dict[str, Any]], ...]) -> None:
    history, test = small
    last_history = max(datetime.fromisoformat(r["event"]["occurred_at"]) for r in history)
    first_test = min(datetime.fromisoformat(r["event"]["occurred_at"]) for r in test)
    assert last_history < first_test
