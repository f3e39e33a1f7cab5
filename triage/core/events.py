"""The exception event a workflow layer sends, validated strictly.

Everything here is input: unknown fields, wrong types, impossible values and oversize text are refused with
an error that names the field. ``classification_text`` decides which parts of an event the models read:
only the trusted, system-written parts, never the customer's message or the free ``context`` map.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from triage.core.text import BusinessDate, EventTime, FreeText, SingleLine, free_text, single_line

MAX_DESCRIPTION_CHARS = 4000
MAX_CUSTOMER_MESSAGE_CHARS = 8000
MAX_LINES = 200
MAX_CONTEXT_KEYS = 32
MAX_CONTEXT_VALUE_CHARS = 1000

Identifier = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/#-]*$"
    ),
    AfterValidator(single_line),
]
ShortText = Annotated[SingleLine, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Quantity = Annotated[Decimal, Field(ge=0, le=10_000_000, max_digits=14, decimal_places=4)]
Money = Annotated[Decimal, Field(ge=0, le=1_000_000_000, max_digits=16, decimal_places=4)]
ContextValue = str | int | float | bool | None
MAX_CONTEXT_KEY_CHARS = 64


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class SourceSystem(StrEnum):
    """The kind of system that reported the exception."""

    ERP = "erp"
    WMS = "wms"
    TMS = "tms"
    CRM = "crm"
    EDI = "edi"
    FINANCE = "finance"
    PORTAL = "portal"
    OTHER = "other"


class CustomerTier(StrEnum):
    """The customer's service tier (the policy may treat tiers differently)."""

    STRATEGIC = "strategic"
    KEY = "key"
    STANDARD = "standard"
    BASIC = "basic"


class Channel(StrEnum):
    """How the order came in."""

    EDI = "edi"
    PORTAL = "portal"
    EMAIL = "email"
    PHONE = "phone"
    SALES_REP = "sales_rep"
    API = "api"


class OrderLine(Input):
    """One line of the order: a product, its quantities and its prices."""

    line_id: Identifier = Field(description="The line's id, unique within the order.")
    sku: Identifier = Field(description="The product's stock-keeping unit.")
    description: ShortText | None = Field(
        default=None, description="The product as the source system names it; null when not given."
    )
    uom: Annotated[SingleLine, StringConstraints(min_length=1, max_length=8)] = Field(
        default="EA", description="Unit of measure of the line's quantities, e.g. EA (each) or CS (case)."
    )
    quantity_ordered: Annotated[Decimal, Field(gt=0, le=10_000_000, max_digits=14, decimal_places=4)] = Field(
        description="Quantity the customer ordered, in `uom`."
    )
    quantity_allocated: Quantity = Field(
        default=Decimal(0),
        description="Quantity reserved for the line so far, in `uom`; at most quantity_ordered.",
    )
    quantity_available: Quantity | None = Field(
        default=None,
        description="Quantity on hand at the site, in `uom`; null when the source does not know.",
    )
    unit_price: Money | None = Field(
        default=None, description="Price per unit, in the order's currency; null when not given."
    )
    contract_price: Money | None = Field(
        default=None, description="Agreed contract price per unit, in the order's currency; null when none."
    )

    @model_validator(mode="after")
    def _allocation_within_order(self) -> OrderLine:
        if self.quantity_allocated > self.quantity_ordered:
            raise ValueError("quantity_allocated cannot exceed quantity_ordered")
        return self


class Order(Input):
    """The order the exception is about, as the source system knows it."""

    order_id: Identifier = Field(description="The order's id in the source system.")
    customer_id: Identifier = Field(description="The customer's id in the source system.")
    customer_tier: CustomerTier = Field(
        default=CustomerTier.STANDARD,
        description="The customer's service tier; the policy may keep some tiers from auto-approval.",
    )
    site: Identifier = Field(description="The site (warehouse or plant) that fulfils the order.")
    channel: Channel = Field(default=Channel.EDI, description="How the order came in.")
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = Field(
        default="USD", description="ISO 4217 code of the order's amounts, e.g. USD."
    )
    order_value: Money = Field(description="Total value of the order, in `currency`.")
    order_date: BusinessDate = Field(description="The day the order was placed (ISO 8601 date).")
    requested_date: BusinessDate | None = Field(
        default=None,
        description="The delivery day the customer asked for; null when none. Not before order_date.",
    )
    promised_date: BusinessDate | None = Field(
        default=None,
        description="The delivery day promised to the customer; null when none. Not before order_date.",
    )
    po_number: Identifier | None = Field(
        default=None, description="The customer's purchase order number; null when none."
    )
    carrier: ShortText | None = Field(
        default=None, description="The carrier that ships the order; null when not known yet."
    )
    tracking_number: Identifier | None = Field(
        default=None, description="The carrier's tracking number; null until shipped."
    )
    lines: Annotated[list[OrderLine], Field(min_length=1, max_length=MAX_LINES)] = Field(
        description=f"The order's lines: 1 to {MAX_LINES}, each line_id once."
    )

    @model_validator(mode="after")
    def _dates_in_order(self) -> Order:
        if self.requested_date is not None and self.requested_date < self.order_date:
            raise ValueError("requested_date cannot be before order_date")
        if self.promised_date is not None and self.promised_date < self.order_date:
            raise ValueError("promised_date cannot be before order_date")
        return self

    @field_validator("lines")
    @classmethod
    def _unique_line_ids(cls, lines: list[OrderLine]) -> list[OrderLine]:
        ids = [line.line_id for line in lines]
        if len(ids) != len(set(ids)):
            raise ValueError("line_id values must be unique within an order")
        return lines


class ExceptionEvent(Input):
    """One order exception as the workflow layer reports it (the body of ``POST /v1/exceptions``)."""

    event_id: Annotated[
        str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
    ] = Field(description="Idempotency key: the same event_id and body always give the same case.")
    source_system: SourceSystem = Field(description="The system that reported the exception.")
    occurred_at: EventTime = Field(description="When the exception happened: ISO 8601 with an offset.")
    order: Order = Field(description="The order the exception is about.")
    exception_code: Annotated[SingleLine, StringConstraints(min_length=1, max_length=64)] | None = Field(
        default=None, description="The source system's own code for the exception; null when it has none."
    )
    description: Annotated[FreeText, StringConstraints(min_length=1, max_length=MAX_DESCRIPTION_CHARS)] = (
        Field(description="What went wrong, written by the source system (trusted: the classifier reads it).")
    )
    customer_message: Annotated[FreeText, StringConstraints(max_length=MAX_CUSTOMER_MESSAGE_CHARS)] | None = (
        Field(
            default=None,
            description="Untrusted text from the customer; treated as data, never as instructions.",
        )
    )
    context: dict[str, ContextValue] = Field(
        default_factory=dict,
        description=f"At most {MAX_CONTEXT_KEYS} free facts from the source system (untrusted: shown to people, never read by the models).",
    )

    @field_validator("description", "customer_message")
    @classmethod
    def _not_blank_or_binary(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not value.strip():
            raise ValueError("must not be empty or whitespace only")
        if "\x00" in value or "\ufffd" in value:
            raise ValueError("must be valid UTF-8 text without NUL or replacement characters")
        return value

    @field_validator("context")
    @classmethod
    def _bounded_context(cls, value: dict[str, Any]) -> dict[str, Any]:
        # Checked here rather than in the type, so the schema shows a plain object of scalars.
        if len(value) > MAX_CONTEXT_KEYS:
            raise ValueError(f"context may hold at most {MAX_CONTEXT_KEYS} keys")
        for key, item in value.items():
            if not 1 <= len(key) <= MAX_CONTEXT_KEY_CHARS:
                raise ValueError(f"context keys must be 1 to {MAX_CONTEXT_KEY_CHARS} characters long")
            single_line(key)
            if isinstance(item, str):
                if len(item) > MAX_CONTEXT_VALUE_CHARS:
                    raise ValueError(f"context[{key!r}] is longer than {MAX_CONTEXT_VALUE_CHARS} characters")
                free_text(item)
        return value


def classification_text(event: ExceptionEvent) -> str:
    """The text the classifier and the case store embed: only trusted, system-written parts of the event.

    The customer's message and the ``context`` map are untrusted and never change a label.
    """
    code = f"[{event.exception_code}] " if event.exception_code else ""
    return f"{event.source_system.value.upper()}: {code}{event.description}"
