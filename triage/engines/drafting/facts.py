"""The grounded fact sheet of a case: every fact a draft may state, and who may read it.

Facts are ``customer`` (the customer may be told), ``internal`` (the internal summary may state them) or
``confidential`` (internal-only: credit limit, exposure, margin, cost, internal notes, other customers' cases;
never in a customer update). Free-text facts (descriptions, notes, resolutions) also contribute the dates,
amounts and ids written inside them, read by the same extractor that reads the drafts.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from triage.core.events import ExceptionEvent, OrderLine
from triage.engines.drafting.claims import PII_KINDS, Claim, DatePart, id_key
from triage.engines.drafting.factcheck_config import FactCheckConfig
from triage.engines.drafting.models import Audience, DraftContext
from triage.engines.drafting.numbers import cents, number_text, to_decimal, trimmed

Visibility = Literal["customer", "internal", "confidential"]
FactKind = Literal[
    "date",
    "amount",
    "quantity",
    "percent",
    "duration",
    "number",
    "ordinal",
    "year",
    "id",
    "time",
    "text",
    "email",
    "phone",
    "card",
    "iban",
    "url",
    "placeholder",
]
CURRENCY_SIGNS = {"USD": "$", "EUR": "€", "GBP": "£"}
_ISO_DATE_LEN = 10


@dataclass(frozen=True)
class Fact:
    name: str
    kind: FactKind
    visibility: Visibility
    number: Decimal | None = None
    key: str | None = None
    dates: tuple[DatePart, ...] = ()
    text: str | None = None
    exact_date: date | None = None
    currency: str | None = None


@dataclass(frozen=True)
class FactSheet:
    """The facts of one case, plus the customer's (untrusted) message for the echo checks."""

    facts: tuple[Fact, ...]
    customer_message: str | None = None
    prompt_data: dict[str, Any] = field(default_factory=dict)
    """Customer-visible facts as the prompts show them (not yet redacted)."""
    internal_prompt_data: dict[str, Any] = field(default_factory=dict)
    """Internal and confidential facts, for the internal summary's prompt only."""

    def allowed(self, audience: Audience) -> list[Fact]:
        if audience == "customer":
            return [f for f in self.facts if f.visibility == "customer"]
        return list(self.facts)

    def confidential(self) -> list[Fact]:
        return [f for f in self.facts if f.visibility == "confidential"]


def normal(value: Decimal) -> Decimal:
    """``240.0000`` → ``240``; ``12.5000`` → ``12.5`` (no scientific notation below 1000 digits)."""
    return trimmed(value)


def format_quantity(value: Decimal, uom: str) -> str:
    return f"{normal(value):,} {uom}"


def format_amount(value: Decimal, currency: str) -> str:
    rounded = cents(value)
    sign = CURRENCY_SIGNS.get(currency)
    return f"{sign}{rounded:,}" if sign else f"{rounded:,} {currency}"


def format_date(value: date) -> str:
    return f"{value:%B} {value.day}, {value.year}"


class _Builder:
    def __init__(self, config: FactCheckConfig) -> None:
        self.config = config
        self.facts: list[Fact] = []

    def number(
        self,
        name: str,
        kind: FactKind,
        value: Decimal | float | int | None,
        vis: Visibility,
        currency: str | None = None,
    ) -> None:
        number = to_decimal(value)
        if number is not None:
            self.facts.append(Fact(name, kind, vis, number=number, currency=currency))

    def ident(self, name: str, value: str | None, vis: Visibility) -> None:
        if value:
            self.facts.append(Fact(name, "id", vis, key=id_key(value), text=value))

    def day(self, name: str, value: date | None, vis: Visibility) -> None:
        if value is not None:
            parts = ((value.year, value.month, value.day),)
            self.facts.append(Fact(name, "date", vis, dates=parts, exact_date=value))

    def text(self, name: str, value: str | None, vis: Visibility, *, with_pii: bool = True) -> None:
        """A free-text fact and every claim written inside it."""
        if not value:
            return
        self.facts.append(Fact(name, "text", vis, text=value))
        for claim in self.config.extractor.extract(value):
            if claim.kind in PII_KINDS and not with_pii:
                continue
            self.facts.append(_from_claim(name, claim, vis))

    def value(self, name: str, value: object, vis: Visibility) -> None:
        """A context value of unknown type: numbers, ISO dates, ids and text are recognised."""
        if isinstance(value, bool) or value is None:
            return
        if isinstance(value, int | float):
            self.number(name, "number", value, vis)
            if name.endswith("_pct"):
                self.number(name, "percent", value, vis)
            return
        text = str(value).strip()
        if len(text) == _ISO_DATE_LEN:
            try:
                self.day(name, date.fromisoformat(text), vis)
                return
            except ValueError:
                pass
        if " " not in text and any(ch.isdigit() for ch in text):
            self.ident(name, text, vis)
        self.text(name, text, vis)


def _from_claim(name: str, claim: Claim, vis: Visibility) -> Fact:
    if claim.kind == "date":
        return Fact(name, "date", vis, dates=claim.dates, text=claim.span)
    return Fact(
        name, claim.kind, vis, number=claim.number, key=claim.key, text=claim.span, currency=claim.currency
    )


def _line_facts(b: _Builder, line: OrderLine, currency: str) -> Iterator[tuple[str, Decimal]]:
    """Add a line's facts; yield its shortfalls (name, quantity) for the totals."""
    p = f"line[{line.line_id}]"
    b.ident(f"{p}.line_id", line.line_id, "customer")
    b.ident(f"{p}.sku", line.sku, "customer")
    b.text(f"{p}.description", line.description, "customer")
    b.number(f"{p}.quantity_ordered", "quantity", line.quantity_ordered, "customer")
    b.number(f"{p}.quantity_allocated", "quantity", line.quantity_allocated, "customer")
    b.number(f"{p}.quantity_available", "quantity", line.quantity_available, "customer")
    short = line.quantity_ordered - line.quantity_allocated
    if short > 0:
        b.number(f"{p}.quantity_short", "quantity", short, "customer")
        yield p, short
    if line.quantity_available is not None and line.quantity_available < line.quantity_ordered:
        b.number(
            f"{p}.quantity_unavailable",
            "quantity",
            line.quantity_ordered - line.quantity_available,
            "customer",
        )
    for price_name, price in (("unit_price", line.unit_price), ("contract_price", line.contract_price)):
        if price is not None:
            b.number(f"{p}.{price_name}", "amount", price, "customer", currency)
            b.number(f"{p}.{price_name}_total", "amount", price * line.quantity_ordered, "customer", currency)
    if line.unit_price is not None and line.contract_price is not None:
        diff = abs(line.unit_price - line.contract_price)
        b.number(f"{p}.price_difference", "amount", diff, "customer", currency)
        b.number(f"{p}.price_difference_total", "amount", diff * line.quantity_ordered, "customer", currency)


def _event_facts(b: _Builder, event: ExceptionEvent) -> None:
    order = event.order
    b.ident("order.order_id", order.order_id, "customer")
    b.ident("order.customer_id", order.customer_id, "customer")
    b.ident("order.po_number", order.po_number, "customer")
    b.ident("order.tracking_number", order.tracking_number, "customer")
    b.ident("order.site", order.site, "customer")
    b.text("order.site_name", order.site, "customer")
    b.text("order.carrier", order.carrier, "customer")
    b.number("order.order_value", "amount", order.order_value, "customer", order.currency)
    b.day("order.order_date", order.order_date, "customer")
    b.day("order.requested_date", order.requested_date, "customer")
    b.day("order.promised_date", order.promised_date, "customer")
    b.day("event.occurred_on", event.occurred_at.date(), "customer")
    b.number("order.line_count", "number", len(order.lines), "customer")
    shortfalls = [short for line in order.lines for _, short in _line_facts(b, line, order.currency)]
    if shortfalls:
        b.number("order.quantity_short_total", "quantity", sum(shortfalls, Decimal(0)), "customer")
        b.number("order.short_line_count", "number", len(shortfalls), "customer")
    b.number(
        "order.quantity_total",
        "quantity",
        sum((ln.quantity_ordered for ln in order.lines), Decimal(0)),
        "customer",
    )
    b.ident("event.event_id", event.event_id, "internal")
    b.text("event.exception_code", event.exception_code, "internal")
    b.text("event.description", event.description, "internal")
    # The customer's own claims may be quoted internally; their personal data was never shown to a model.
    b.text("event.customer_message", event.customer_message, "internal", with_pii=False)


def _context_visibility(config: FactCheckConfig, key: str) -> Visibility:
    if config.is_confidential_key(key):
        return "confidential"
    return "customer" if key in config.customer_context_keys else "internal"


def build_fact_sheet(ctx: DraftContext, config: FactCheckConfig) -> FactSheet:
    """Every fact of the case with its visibility, and the prompt views of them."""
    b = _Builder(config)
    event = ctx.event
    _event_facts(b, event)
    for key, value in event.context.items():
        b.value(f"context.{key}", value, _context_visibility(config, key))
    b.number("classification.confidence", "number", round(ctx.confidence, 2), "internal")
    b.number("classification.confidence_pct", "percent", round(ctx.confidence * 100), "internal")
    for index, n in enumerate(ctx.neighbours):
        p = f"neighbour[{index}]"
        b.ident(f"{p}.case_id", n.case_id, "confidential")
        b.text(f"{p}.resolution", n.resolution, "confidential")
        if n.hours_to_resolve is not None:
            b.number(f"{p}.hours_to_resolve", "duration", round(n.hours_to_resolve, 1), "confidential")
    hours = [n.hours_to_resolve for n in ctx.neighbours if n.hours_to_resolve is not None]
    if hours:
        b.number("neighbours.median_hours", "duration", round(_median(hours), 1), "internal")
    b.number("neighbours.count", "number", len(ctx.neighbours), "internal")
    actions = Counter(n.resolution_action or "unrecorded" for n in ctx.neighbours)
    for action, count in actions.items():
        b.number(f"neighbours.{action}.count", "number", count, "internal")
    customer_data, internal_data = _prompt_data(ctx, config)
    return FactSheet(tuple(b.facts), event.customer_message, customer_data, internal_data)


def _median(values: Iterable[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _prompt_data(ctx: DraftContext, config: FactCheckConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    event, order = ctx.event, ctx.event.order

    def amount(value: Decimal | None) -> str | None:
        return None if value is None else format_amount(value, order.currency)

    lines = [
        {
            "line_id": ln.line_id,
            "sku": ln.sku,
            "description": ln.description,
            "quantity_ordered": format_quantity(ln.quantity_ordered, ln.uom),
            "quantity_allocated": format_quantity(ln.quantity_allocated, ln.uom),
            "quantity_available": None
            if ln.quantity_available is None
            else format_quantity(ln.quantity_available, ln.uom),
            "unit_price": amount(ln.unit_price),
            "contract_price": amount(ln.contract_price),
        }
        for ln in order.lines
    ]
    customer: dict[str, Any] = {
        "order_id": order.order_id,
        "customer_id": order.customer_id,
        "po_number": order.po_number,
        "order_date": format_date(order.order_date),
        "requested_date": order.requested_date and format_date(order.requested_date),
        "promised_date": order.promised_date and format_date(order.promised_date),
        "order_value": amount(order.order_value),
        "site": order.site,
        "carrier": order.carrier,
        "tracking_number": order.tracking_number,
        "lines": lines,
        "details": {
            k: _prompt_value(v)
            for k, v in event.context.items()
            if _context_visibility(config, k) == "customer"
        },
    }
    internal: dict[str, Any] = {
        "event_id": event.event_id,
        "source_system": event.source_system.value,
        "exception_code": event.exception_code,
        "customer_tier": order.customer_tier.value,
        "context": {k: _prompt_value(v) for k, v in event.context.items()},
    }
    return _drop_empty(customer), _drop_empty(internal)


def _prompt_value(value: object) -> object:
    """A context value as JSON can carry it: NaN, an infinity or an int too long to write out becomes text."""
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, int) and not isinstance(value, bool):
        text = number_text(value)
        return value if text.lstrip("-").isdigit() else text
    return value


def _drop_empty(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v not in (None, "", [], {})}
