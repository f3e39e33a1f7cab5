"""Taxonomy: owner team, severity raised by rules, unknown labels, validation."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from triage.core.errors import ConfigurationError
from triage.core.events import ExceptionEvent
from triage.core.vocabulary import Severity
from triage.engines.policy.models import SEVERITIES
from triage.engines.policy.taxonomy import Taxonomy, days_to_promise, load_taxonomy

TAXONOMY_FILE = Path(__file__).resolve().parents[2] / "guardrails" / "taxonomy.yaml"


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy(TAXONOMY_FILE)


def make_event(
    value: str = "1000", tier: str = "standard", promised: date | None = None, requested: date | None = None
) -> ExceptionEvent:
    order: dict[str, Any] = {
        "order_id": "SO-1",
        "customer_id": "C-1",
        "customer_tier": tier,
        "site": "DC1",
        "order_value": Decimal(value),
        "order_date": "2026-05-01",
        "lines": [{"line_id": "1", "sku": "SKU-1", "quantity_ordered": 1}],
    }
    if promised:
        order["promised_date"] = promised.isoformat()
    if requested:
        order["requested_date"] = requested.isoformat()
    return ExceptionEvent.model_validate(
        {
            "event_id": "evt-1",
            "source_system": "erp",
            "occurred_at": "2026-05-03T08:00:00Z",
            "order": order,
            "description": "something happened",
        }
    )


def test_owner_team_and_actions(taxonomy: Taxonomy) -> None:
    assert taxonomy.owner_team("credit_hold") == "finance"
    assert taxonomy.actions("shipment_delay") == [
        "recalculate_commitment",
        "notify_customer",
        "expedite_shipment",
    ]
    assert len(taxonomy.labels) == 9
    assert taxonomy.manual_desk_team == "customer_service"


def test_unknown_label_is_treated_as_other(taxonomy: Taxonomy) -> None:
    assert taxonomy.owner_team("made_up") == taxonomy.owner_team("other")
    assert taxonomy.severity_for(make_event(), "made_up") == "low"


def test_base_severity_when_no_rule_matches(taxonomy: Taxonomy) -> None:
    assert taxonomy.severity_for(make_event(), "pricing_discrepancy") == "low"
    assert taxonomy.severity_for(make_event(), "carrier_failure") == "high"


def test_each_matching_rule_raises_one_step_and_caps_at_critical(taxonomy: Taxonomy) -> None:
    assert taxonomy.severity_for(make_event(value="50000"), "inventory_shortage") == "high"
    assert taxonomy.severity_for(make_event(value="49999.99"), "inventory_shortage") == "medium"
    assert (
        taxonomy.severity_for(make_event(value="50000", tier="strategic"), "inventory_shortage") == "critical"
    )
    everything = make_event(value="90000", tier="strategic", promised=date(2026, 5, 4))
    assert taxonomy.severity_for(everything, "inventory_shortage") == "critical"
    assert taxonomy.severity_for(make_event(tier="strategic"), "carrier_failure") == "critical"


def test_days_to_promise_uses_promised_then_requested_date(taxonomy: Taxonomy) -> None:
    assert days_to_promise(make_event()) is None
    assert days_to_promise(make_event(promised=date(2026, 5, 5), requested=date(2026, 5, 20))) == 2
    assert days_to_promise(make_event(requested=date(2026, 5, 4))) == 1
    assert taxonomy.severity_for(make_event(promised=date(2026, 5, 5)), "incomplete_order_data") == "medium"
    assert taxonomy.severity_for(make_event(promised=date(2026, 5, 6)), "incomplete_order_data") == "low"


def test_invalid_taxonomy_is_refused_with_readable_errors(tmp_path: Path) -> None:
    path = tmp_path / "taxonomy.yaml"
    path.write_text(
        "version: 1\nseverity_levels: [low, high]\ncategories:\n"
        "  other: {description: x, owner_team: cs, severity: {base: medium}, actions: [manual_triage]}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigurationError) as refused:
        load_taxonomy(path)
    assert refused.value.detail == (
        f"{path}: categories.other.severity.base: 'medium' is not a severity level of this taxonomy (low, high)"
    )
    path.write_text(
        "version: 1\nseverity_levels: [low]\ncategories:\n"
        "  misc: {description: x, owner_team: cs, severity: {base: low, raise_when: [{}]}, actions: [a]}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigurationError) as info:
        load_taxonomy(path)
    assert info.value.detail == (
        f"{path}: categories.misc.severity.raise_when[0]: a raise_when rule needs at least one condition"
    )
    path.write_text(path.read_text(encoding="utf-8").replace("raise_when: [{}]", "raise_when: []"), "utf-8")
    with pytest.raises(ConfigurationError) as info:
        load_taxonomy(path)
    assert (
        info.value.detail == f"{path}: categories: needs an 'other' category for the labels it does not know"
    )


OTHER = "  other: {description: x, owner_team: cs, severity: {base: low}, actions: [manual_triage]}\n"


@pytest.mark.parametrize(
    ("levels", "problem"),
    [
        (
            "[low, urgent]",
            "severity_levels[1]: Input should be 'low', 'medium', 'high' or 'critical' (got 'urgent')",
        ),
        ("[high, low]", "severity_levels: must list each level once, lowest first: [low, high]"),
        ("[low, low]", "severity_levels: must list each level once, lowest first: [low]"),
    ],
)
def test_severity_levels_are_the_one_severity_vocabulary_in_its_order(
    tmp_path: Path, levels: str, problem: str
) -> None:
    path = tmp_path / "taxonomy.yaml"
    path.write_text(f"version: 1\nseverity_levels: {levels}\ncategories:\n{OTHER}", encoding="utf-8")
    with pytest.raises(ConfigurationError) as refused:
        load_taxonomy(path)
    assert refused.value.detail == f"{path}: {problem}"


def test_severity_is_a_plain_string_of_the_policy_vocabulary(taxonomy: Taxonomy) -> None:
    severity = taxonomy.severity_for(make_event(), "carrier_failure")
    assert type(severity) is str
    assert severity in SEVERITIES
    assert tuple(Severity) == SEVERITIES
