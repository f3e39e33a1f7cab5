"""Template drafts use every fact the event gives and read as a person writes; the fact-check catches a draft
that calls a known fact unknown, or tells the customer no action is needed when the case needs one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.factories import make_event
from triage.engines.drafting import DraftContext, build_fact_sheet, check_draft
from triage.engines.drafting.factcheck_config import FactCheckConfig, load_factcheck_config
from triage.engines.drafting.templates import TemplateDrafter, load_templates

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def config() -> FactCheckConfig:
    return load_factcheck_config(ROOT / "guardrails" / "factcheck.yaml")


@pytest.fixture(scope="module")
def drafter(config: FactCheckConfig) -> TemplateDrafter:
    labels = [p.stem for p in (ROOT / "prompts" / "templates").glob("*.yaml") if not p.stem.startswith("_")]
    return TemplateDrafter(load_templates(ROOT / "prompts" / "templates", labels), config)


def context(label: str, **event: Any) -> DraftContext:
    return DraftContext(make_event(**event), label, 0.95, False, "high", "logistics", [], None)


def test_a_known_new_eta_is_stated_not_promised(drafter: TemplateDrafter, config: FactCheckConfig) -> None:
    ctx = context("shipment_delay", context={"new_eta": "2026-05-09"})
    text, _ = drafter.render(ctx, "customer_update")
    assert "May 9, 2026" in text or "2026-05-09" in text, text
    assert "will confirm the new delivery date" not in text
    assert check_draft(text, build_fact_sheet(ctx, config), "customer", config) == []
    unknown, _ = drafter.render(context("shipment_delay"), "customer_update")
    assert "will confirm the new delivery date" in unknown


def test_a_draft_calling_a_known_date_unknown_is_flagged(config: FactCheckConfig) -> None:
    ctx = context("shipment_delay", context={"new_eta": "2026-05-09"})
    text = "Your shipment is delayed. Our team will confirm the new delivery date soon."
    findings = check_draft(text, build_fact_sheet(ctx, config), "customer", config)
    assert [f.check for f in findings] == ["contradicts_facts"]


def test_a_credit_hold_past_due_asks_the_customer_to_act(
    drafter: TemplateDrafter, config: FactCheckConfig
) -> None:
    overdue = context("credit_hold", context={"days_past_due": 62, "credit_limit": 50000})
    text, _ = drafter.render(overdue, "customer_update")
    assert "no action is needed" not in text and "overdue balance" in text
    facts = build_fact_sheet(overdue, config)
    assert check_draft(text, facts, "customer", config) == []
    wrong = "The order is on hold; no action is needed from you at this time."
    assert [f.check for f in check_draft(wrong, facts, "customer", config)] == ["contradicts_facts"]
    current = context("credit_hold", context={"days_past_due": 0})
    assert "no action is needed" in drafter.render(current, "customer_update")[0]


def test_no_received_your_message_without_a_message(drafter: TemplateDrafter) -> None:
    silent, _ = drafter.render(context("other"), "customer_update")
    assert "received your" not in silent
    wrote, _ = drafter.render(context("other", customer_message="Where is my order?"), "customer_update")
    assert "received your message" in wrote


def test_summaries_read_as_a_person_writes(drafter: TemplateDrafter) -> None:
    ctx = context("shipment_delay", context={"erp_status": "in_process", "in_transit": True, "days_late": 2})
    text, _ = drafter.render(ctx, "summary")
    assert "True" not in text and "in_process" not in text and "erp_status" not in text
    assert "erp status: in process" in text and "in transit: yes" in text
