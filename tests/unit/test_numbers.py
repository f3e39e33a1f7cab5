"""Numbers of any size and form never crash the fact sheet or the fact-check (issue #11), and compare sensibly.

A 27-digit number, ``1e27``, ``1E+999``, ``NaN``, ``Infinity``, ``-0``, ``٣`` or ``²`` anywhere in an event
(description, customer message, exception code, a context value) must still give a triage; a huge number a
draft states that no fact holds is still a finding.
"""

from __future__ import annotations

import json
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import make_event
from triage.core.events import ExceptionEvent
from triage.engines.drafting import DraftContext, FactSheet, build_fact_sheet, check_draft
from triage.engines.drafting.claims import parse_number
from triage.engines.drafting.factcheck_config import FactCheckConfig, load_factcheck_config
from triage.engines.drafting.facts import format_amount, format_quantity
from triage.engines.drafting.models import Audience, DraftKind, Finding
from triage.engines.drafting.numbers import (
    cents,
    number_text,
    plain_integer,
    same_amount,
    to_decimal,
    trimmed,
)
from triage.engines.drafting.templates import TemplateDrafter, TemplateSet, load_templates

ROOT = Path(__file__).resolve().parents[2]
DIGITS_27 = "123456789012345678901234567"
CONFIG = load_factcheck_config(ROOT / "guardrails" / "factcheck.yaml")
TEMPLATES = load_templates(ROOT / "prompts" / "templates")
DRAFTS: tuple[tuple[DraftKind, Audience], ...] = (("summary", "internal"), ("customer_update", "customer"))


def context_of(event: ExceptionEvent) -> DraftContext:
    return DraftContext(event, "inventory_shortage", 0.91, False, "medium", "fulfillment")


def unsupported(findings: list[Finding]) -> list[str]:
    return [f.span for f in findings if f.check == "unsupported_fact"]


def triage_drafts(event: ExceptionEvent, config: FactCheckConfig, templates: TemplateSet) -> FactSheet:
    """What drafting does with an event: the fact sheet, both template drafts, and their fact-check."""
    ctx = context_of(event)
    facts = build_fact_sheet(ctx, config)
    drafter = TemplateDrafter(templates, config)
    for kind, audience in DRAFTS:
        text, _ = drafter.render(ctx, kind)
        check_draft(text, facts, audience, config)
    return facts


# The cases: a 27-digit number and 1e27 in each free-text field and as a context value.
LONG_NUMBER_EVENTS: dict[str, dict[str, Any]] = {
    "description-27-digits": {"description": f"Short by {DIGITS_27} against ref {DIGITS_27}"},
    "description-1e27": {"description": "Allocation short, counter reads 1e27"},
    "customer_message-27-digits": {"customer_message": f"You billed us {DIGITS_27} on this order"},
    "customer_message-1e27": {"customer_message": "The portal says we owe 1e27"},
    "exception_code-27-digits": {"exception_code": DIGITS_27},
    "exception_code-1e27": {"exception_code": "1e27"},
    "context-int-27-digits": {"context": {"exposure": int(DIGITS_27), "counter": int(DIGITS_27)}},
    "context-float-1e27": {"context": {"exposure": 1e27, "counter": 1e27}},
    "context-text-27-digits": {"context": {"note": f"ref {DIGITS_27}", "raw": DIGITS_27}},
    "context-text-1e27": {"context": {"note": "reads 1e27", "raw": "1e27"}},
    "context-non-finite": {"context": {"a": float("nan"), "b": float("inf"), "c": float("-inf")}},
    "context-beyond-int-str-limit": {"context": {"counter": 10**5000}},
}


@pytest.mark.parametrize("overrides", LONG_NUMBER_EVENTS.values(), ids=LONG_NUMBER_EVENTS.keys())
def test_a_long_number_anywhere_in_the_event_still_drafts_and_checks(overrides: dict[str, Any]) -> None:
    facts = triage_drafts(make_event(**overrides), CONFIG, TEMPLATES)
    # The LLM prompts carry the same data as JSON (``LLMDrafter._variables`` dumps it like this).
    assert json.dumps([facts.prompt_data, facts.internal_prompt_data], default=str)
    # An amount no fact holds is compared against every number fact, the huge ones included.
    findings = check_draft("The order is short by $7.77 and 11 units.", facts, "internal", CONFIG)
    assert unsupported(findings) == ["$7.77", "11 units"]


@pytest.mark.parametrize("field", ["description", "customer_message"])
def test_a_long_number_the_event_states_is_grounded_and_a_different_one_is_not(field: str) -> None:
    facts = build_fact_sheet(context_of(make_event(**{field: f"Counter is {DIGITS_27} now"})), CONFIG)
    assert unsupported(check_draft(f"The counter is {DIGITS_27}.", facts, "internal", CONFIG)) == []
    other = DIGITS_27[:-1] + "8"
    assert unsupported(check_draft(f"The counter is {other}.", facts, "internal", CONFIG)) == [other]
    assert unsupported(check_draft(f"It costs ${other}.", facts, "internal", CONFIG)) == [f"${other}"]


def test_a_huge_context_value_grounds_the_same_number_and_nothing_near_it() -> None:
    event = make_event(context={"counter": 10**30, "reading": 1e27})
    facts = build_fact_sheet(context_of(event), CONFIG)
    grounded = f"Counter {10**30:,} and reading {10**27}."
    assert unsupported(check_draft(grounded, facts, "internal", CONFIG)) == []
    near = f"Counter {10**30 + 1} and reading ${10**27 + 1:,}.00 now."
    assert unsupported(check_draft(near, facts, "internal", CONFIG)) == [
        str(10**30 + 1),
        f"${10**27 + 1:,}.00",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1e27", Decimal("1E+27")),
        ("1E+999", Decimal("1E+999")),
        ("1e-999999", Decimal("1E-999999")),
        ("-0", Decimal("0")),
        ("\u0663", Decimal(3)),  # ARABIC-INDIC DIGIT THREE
        (DIGITS_27 * 40, Decimal(DIGITS_27 * 40)),
        ("NaN", None),
        ("sNaN", None),
        ("Infinity", None),
        ("-Infinity", None),
        ("\u00b2", None),  # SUPERSCRIPT TWO: a digit to str.isdigit, not a number
        ("$12", None),
        ("", None),
    ],
)
def test_to_decimal_reads_any_form_exactly_or_answers_none(text: str, expected: Decimal | None) -> None:
    assert to_decimal(text) == expected


def test_to_decimal_of_python_numbers() -> None:
    assert to_decimal(10**5000) == Decimal(10**5000)
    assert to_decimal(1e27) == Decimal("1E+27")
    assert to_decimal(0.1) == Decimal("0.1")
    assert to_decimal(float("nan")) is None
    assert to_decimal(float("inf")) is None
    assert to_decimal(True) is None
    assert to_decimal(None) is None


def test_parse_number_is_exact_at_any_size_and_does_not_use_the_thread_precision() -> None:
    with localcontext() as ctx:
        ctx.prec = 5
        assert parse_number("1,000,000,000,000,000,000,000,000,001", "million") == Decimal(
            "1000000000000000000000000001000000"
        )
        assert parse_number("1.5", "k") == 1500
        assert parse_number("\u0663\u066b\u0665") is None  # an Arabic decimal separator is not one we read
        assert parse_number("7", "gazillion") is None


def test_cents_and_amounts_at_any_size() -> None:
    assert cents(Decimal("12.345")) == Decimal("12.35")
    assert str(cents(Decimal(f"{10**30}.005"))) == f"{10**30}.01"
    assert cents(Decimal("1E+999999")) == Decimal("1E+999999")
    assert same_amount(Decimal("1200.004"), Decimal(1200))
    assert not same_amount(Decimal(10**30), Decimal(10**30 + 1))
    assert not same_amount(Decimal("NaN"), Decimal("NaN"))
    assert format_amount(Decimal(10**30), "USD") == f"${10**30:,}.00"
    assert format_amount(Decimal("1E+999999"), "CHF") == "1E+999999 CHF"


def test_plain_digits_and_trimmed_quantities() -> None:
    assert plain_integer(Decimal("5E+3")) == "5000"
    assert plain_integer(Decimal("0010")) == "10"
    assert plain_integer(Decimal("12.0")) is None
    assert plain_integer(Decimal("1E+999999")) is None
    assert trimmed(Decimal("240.0000")) == Decimal(240)
    assert str(trimmed(Decimal("12.5000"))) == "12.5"
    assert str(trimmed(Decimal("5E+3"))) == "5000"
    assert format_quantity(Decimal("1E+40"), "EA") == f"{10**40:,} EA"
    assert number_text(10**5000) == "1.000000E+5000"


# Numbers as text in every form a person, a system or a fuzzer writes them.
DIGIT_RUN = st.text("0123456789", min_size=1, max_size=80)
GROUPED = st.lists(st.text("0123456789", min_size=3, max_size=3), min_size=1, max_size=12).map(
    lambda groups: "1," + ",".join(groups)
)
UNICODE_DIGITS = st.text(st.characters(categories=("Nd", "No")), min_size=1, max_size=12)
SPECIAL = st.sampled_from(
    ["NaN", "nan", "Infinity", "-Infinity", "inf", "sNaN", "-0", "+0", "0.0", "-0.00", "1e27", "1E+999"]
)
EXPONENT = st.builds(
    lambda mantissa, sign, power: f"{mantissa}e{sign}{power}",
    DIGIT_RUN,
    st.sampled_from(["", "+", "-"]),
    st.integers(min_value=0, max_value=10**12),
)
NUMBER = st.one_of(DIGIT_RUN, GROUPED, UNICODE_DIGITS, SPECIAL, EXPONENT)
DECORATED = st.builds(
    lambda before, number, fraction, after: f"{before}{number}{fraction}{after}",
    st.sampled_from(["", "$", "€", "£", "US$", "USD ", "-", "#", "PO-", "x"]),
    NUMBER,
    st.sampled_from(["", ".5", ".005", ",000", ".00"]),
    st.sampled_from(["", " USD", " EUR", " dollars", "%", " units", " k", " million", " days", "th", "x"]),
)
WORDS = st.sampled_from(["short by", "order", "total", "on", "ref", "at DC-EAST", "we owe", "and", "the"])
TEXT = st.lists(st.one_of(DECORATED, WORDS), min_size=1, max_size=12).map(" ".join)
CONTEXT_VALUE = st.one_of(
    TEXT.map(lambda text: text[:1000]),
    st.integers(),
    st.builds(lambda power: 10**power, st.integers(min_value=0, max_value=6000)),
    st.floats(allow_nan=True, allow_infinity=True),
    st.none(),
    st.booleans(),
)


def _event(description: str, message: str, code: str, context: dict[str, Any]) -> ExceptionEvent:
    return make_event(
        description=description.strip() or "short",
        customer_message=message.strip() or None,
        exception_code=code.strip()[:64] or None,
        context=context,
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    description=TEXT,
    message=TEXT,
    code=TEXT,
    context=st.dictionaries(st.sampled_from(["exposure", "counter", "note", "raw_pct"]), CONTEXT_VALUE),
    draft=TEXT,
)
def test_numbers_of_any_size_and_form_never_crash_and_give_stable_results(
    description: str, message: str, code: str, context: dict[str, Any], draft: str
) -> None:
    event = _event(description, message, code, context)
    facts = triage_drafts(event, CONFIG, TEMPLATES)
    assert build_fact_sheet(context_of(event), CONFIG).facts == facts.facts
    for _, audience in DRAFTS:
        first = check_draft(draft, facts, audience, CONFIG)
        assert check_draft(draft, facts, audience, CONFIG) == first
    # What the event itself says is a fact of the case: repeating the description is never unsupported.
    assert unsupported(check_draft(event.description, facts, "internal", CONFIG)) == []


@settings(max_examples=100, deadline=None)
@given(description=TEXT, digits=st.integers(min_value=27, max_value=400), seed=st.integers(min_value=1))
def test_a_huge_number_no_fact_holds_is_always_a_finding(description: str, digits: int, seed: int) -> None:
    event = _event(description, "", "", {})
    facts = build_fact_sheet(context_of(event), CONFIG)
    number = str(10 ** (digits - 1) + seed % 10 ** (digits - 1))
    held = {f.number for f in facts.facts if f.number is not None}
    if any(same_amount(Decimal(number), value) for value in held) or number in description:
        return
    for span in (number, f"${int(number):,}", f"{number} units"):
        findings = check_draft(f"The total is {span} today.", facts, "internal", CONFIG)
        assert unsupported(findings) == [span]
