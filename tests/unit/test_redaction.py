"""Redaction of personal data before anything leaves the process; placeholders are never restored."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.factories import make_event
from triage.engines.drafting import DraftContext, build_fact_sheet, check_draft
from triage.engines.drafting.factcheck_config import FactCheckConfig, load_factcheck_config
from triage.engines.drafting.redaction import Redactor

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def config() -> FactCheckConfig:
    return load_factcheck_config(ROOT / "guardrails" / "factcheck.yaml")


@pytest.fixture
def redactor(config: FactCheckConfig) -> Redactor:
    return Redactor(config.extractor, keep=["1Z999AA10123456784", "411111111111111", "SO-1001"])


@pytest.mark.parametrize(
    ("text", "secret", "placeholder"),
    [
        ("Mail me at maria.okafor@harbor.example please", "maria.okafor@harbor.example", "[EMAIL_1]"),
        ("Call (201) 555-0142 today", "(201) 555-0142", "[PHONE_1]"),
        ("Call +44 20 7946 0958 today", "+44 20 7946 0958", "[PHONE_1]"),
        ("Card 4111 1111 1111 1111 on file", "4111 1111 1111 1111", "[CARD_1]"),
        ("Pay to DE89 3704 0044 0532 0130 00 now", "DE89 3704 0044 0532 0130 00", "[IBAN_1]"),
        ("Our account no: 12345678 at the bank", "12345678", "[ACCOUNT_1]"),
        ("Hi Tom,\nwhere is it?", "Tom", "[NAME_1]"),
        ("Dear Ms. Tanaka, thanks", "Tanaka", "[NAME_1]"),
        ("Where is it?\n\nMaria Okafor\nHarbor Industrial Supply", "Maria Okafor", "[NAME_1]"),
        ("Please ship. Thanks, Priya Nguyen (purchasing)", "Priya Nguyen", "[NAME_1]"),
        ("need it by 3/15\n-- Dana | purchasing", "Dana", "[NAME_1]"),
        ("My name is Felix Moreau and I buy for Acme", "Felix Moreau", "[NAME_1]"),
    ],
)
def test_personal_data_is_replaced(redactor: Redactor, text: str, secret: str, placeholder: str) -> None:
    result = redactor.redact(text)
    assert secret not in result.text
    assert placeholder in result.text
    assert result.replaced[placeholder] == secret


def test_a_name_seen_once_is_redacted_everywhere(redactor: Redactor) -> None:
    result = redactor.redact("My name is Felix Moreau. Felix will call back.")
    assert "Felix" not in result.text and "Moreau" not in result.text


def test_order_identifiers_and_facts_are_kept(redactor: Redactor) -> None:
    text = "Order SO-1001, tracking 1Z999AA10123456784, FedEx 411111111111111, 240 EA on 2025-03-04, $1,200"
    assert redactor.redact(text).text == text


def test_greetings_without_a_name_are_left_alone(redactor: Redactor) -> None:
    for text in ("Hello,\nwhere is it?", "Hi team, any news?", "To whom it may concern,\nthanks", "Hi all"):
        assert "[NAME_" not in redactor.redact(text).text, text


def test_placeholders_are_numbered_stably_across_texts(redactor: Redactor) -> None:
    first = redactor.redact("write to a@b.example")
    second = redactor.redact("or to c@d.example, or again a@b.example")
    assert first.text == "write to [EMAIL_1]"
    assert second.text == "or to [EMAIL_2], or again [EMAIL_1]"


def test_redact_data_walks_nested_values(redactor: Redactor) -> None:
    data = {"a": ["mail x@y.example"], "b": {"c": "Call 415-555-0199"}, "n": 3}
    assert redactor.redact_data(data) == {"a": ["mail [EMAIL_1]"], "b": {"c": "Call [PHONE_1]"}, "n": 3}


def test_personal_data_never_comes_back_into_a_customer_draft(config: FactCheckConfig) -> None:
    event = make_event(
        customer_message="Hi, call me on (201) 555-0142.\n\nMaria Okafor\nmaria@harbor.example"
    )
    ctx = DraftContext(event, "inventory_shortage", 0.9, False, "medium", "fulfillment", [], None)
    facts = build_fact_sheet(ctx, config)
    restored = check_draft(
        "Hello Maria, we will call (201) 555-0142 or write to maria@harbor.example.",
        facts,
        "customer",
        config,
    )
    assert {"pii"} <= {f.check for f in restored}
    assert {f.span for f in restored if f.check == "pii"} == {"(201) 555-0142", "maria@harbor.example"}
    placeholder = check_draft("Dear [NAME_1], your order is on its way.", facts, "customer", config)
    assert [f.check for f in placeholder] == ["redaction_placeholder"]
