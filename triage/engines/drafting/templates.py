"""The no-LLM drafter: grounded template sentences per category, read from ``prompts/templates/``.

Every variable is a fact of the case, formatted the way the fact-check reads it, so a template draft is
grounded by construction (and the fact-check runs on it anyway). The customer update uses customer-visible
facts only.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from triage.core.events import OrderLine
from triage.core.governed import FILE, InvalidAt, files_error, governed_error, load_governed
from triage.engines.drafting.factcheck_config import FactCheckConfig
from triage.engines.drafting.facts import _median, format_amount, format_date, format_quantity
from triage.engines.drafting.models import DraftContext, DraftKind
from triage.engines.drafting.numbers import number_text
from triage.engines.policy.taxonomy import FALLBACK_LABEL

CUSTOMER_VARIABLES = frozenset(
    {
        "order_id",
        "po_number",
        "customer_id",
        "order_date",
        "requested_date",
        "promised_date",
        "order_value",
        "carrier",
        "tracking_number",
        "site",
        "line_count",
        "lines",
        "short_lines",
        "price_lines",
        "missing_field",
        "substitute_sku",
        "occurred_date",
        "new_eta",
        "payment_overdue",
        "customer_wrote",
    }
)
INTERNAL_VARIABLES = frozenset(
    {
        "label",
        "label_title",
        "severity",
        "owner_team",
        "confidence",
        "abstained",
        "predicted_action",
        "neighbour_count",
        "neighbour_actions",
        "neighbour_median_hours",
        "neighbour_example",
        "description",
        "exception_code",
        "source_system",
        "internal_context",
        "has_customer_message",
        "customer_tier",
    }
)
TEMPLATE_VARIABLES = CUSTOMER_VARIABLES | INTERNAL_VARIABLES
FORMAT_VARIABLES = {
    "line": {"line_id", "sku", "quantity_ordered", "quantity_allocated", "unit_price", "contract_price"},
    "short_line": {
        "line_id",
        "sku",
        "quantity_ordered",
        "quantity_allocated",
        "unit_price",
        "contract_price",
    },
    "price_line": {
        "line_id",
        "sku",
        "quantity_ordered",
        "quantity_allocated",
        "unit_price",
        "contract_price",
    },
    "neighbour": {"case_id", "resolution_action", "outcome", "resolution", "hours_to_resolve"},
}
COMMON_FILE = "_common.yaml"


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Sentence(_Strict):
    text: str
    when: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _known_variables(self) -> Sentence:
        try:
            used = _fields(self.text)
        except ValueError as exc:
            raise InvalidAt("text", f"bad placeholder syntax in {self.text!r}: {exc}") from exc
        unknown = sorted((used | set(self.when) | set(self.unless)) - TEMPLATE_VARIABLES)
        if unknown:
            raise InvalidAt("text", f"unknown variables {unknown} in {self.text!r}")
        return self


class Formats(_Strict):
    line: str
    short_line: str
    price_line: str
    neighbour: str

    @model_validator(mode="after")
    def _known_variables(self) -> Formats:
        problems = [
            (name, f"unknown variables {unknown}")
            for name, allowed in FORMAT_VARIABLES.items()
            if (unknown := sorted(_fields(getattr(self, name)) - allowed))
        ]
        if problems:
            raise InvalidAt.many(problems)
        return self


class CommonTemplates(_Strict):
    version: int
    formats: Formats
    summary_header: tuple[Sentence, ...]
    summary_footer: tuple[Sentence, ...]
    customer_header: tuple[Sentence, ...]
    customer_footer: tuple[Sentence, ...]

    @model_validator(mode="after")
    def _customer_parts_use_customer_facts(self) -> CommonTemplates:
        _customer_only({"customer_header": self.customer_header, "customer_footer": self.customer_footer})
        return self


class CategoryTemplates(_Strict):
    label: str
    version: int
    summary: tuple[Sentence, ...]
    customer_update: tuple[Sentence, ...]

    @model_validator(mode="after")
    def _customer_parts_use_customer_facts(self) -> CategoryTemplates:
        _customer_only({"customer_update": self.customer_update})
        return self


def _customer_only(parts: Mapping[str, tuple[Sentence, ...]]) -> None:
    problems = [
        ((part, index, "text"), f"a customer sentence uses internal variables {internal}")
        for part, sentences in parts.items()
        for index, sentence in enumerate(sentences)
        if (internal := sorted(_fields(sentence.text) & INTERNAL_VARIABLES))
    ]
    if problems:
        raise InvalidAt.many(problems)


@dataclass(frozen=True)
class TemplateSet:
    common: CommonTemplates
    categories: Mapping[str, CategoryTemplates]

    def for_label(self, label: str, abstained: bool) -> CategoryTemplates:
        if abstained:
            return self.categories[FALLBACK_LABEL]
        return self.categories.get(label, self.categories[FALLBACK_LABEL])


def load_templates(directory: Path, labels: Iterable[str] = ()) -> TemplateSet:
    """Read and validate ``_common.yaml`` and one file per label (``other`` is required as the catch-all).

    ``labels`` are the taxonomy's (``Taxonomy.labels``); a label without its file is refused.
    """
    common = load_governed(directory / COMMON_FILE, CommonTemplates)
    categories: dict[str, CategoryTemplates] = {}
    for path in sorted(directory.glob("*.yaml")):
        if path.name == COMMON_FILE:
            continue
        category = load_governed(path, CategoryTemplates)
        if category.label != path.stem:
            raise governed_error(
                path, [("label", f"{category.label!r} does not match the file name {path.stem!r}")]
            )
        categories[category.label] = category
    missing = sorted(({FALLBACK_LABEL} | set(labels)) - set(categories))
    if missing:
        raise files_error(
            (directory / f"{label}.yaml", FILE, "no such file (every taxonomy label needs its template)")
            for label in missing
        )
    return TemplateSet(common, categories)


def _line_vars(line: OrderLine, currency: str) -> dict[str, str]:
    def money(value: Any) -> str:
        return "" if value is None else format_amount(value, currency)

    return {
        "line_id": line.line_id,
        "sku": line.sku,
        "quantity_ordered": format_quantity(line.quantity_ordered, line.uom),
        "quantity_allocated": format_quantity(line.quantity_allocated, line.uom),
        "unit_price": money(line.unit_price),
        "contract_price": money(line.contract_price),
    }


def template_variables(ctx: DraftContext, templates: TemplateSet, config: FactCheckConfig) -> dict[str, str]:
    """The values of every template variable for this case ("" when a fact is absent)."""
    event, order, fmt = ctx.event, ctx.event.order, templates.common.formats
    lines = [(ln, _line_vars(ln, order.currency)) for ln in order.lines]
    short = [fmt.short_line.format_map(v) for ln, v in lines if ln.quantity_allocated < ln.quantity_ordered]
    priced = [
        fmt.price_line.format_map(v)
        for ln, v in lines
        if ln.unit_price is not None and ln.contract_price is not None and ln.unit_price != ln.contract_price
    ]
    context = event.context
    missing = context.get("missing_field") if "missing_field" in config.customer_context_keys else None
    substitute = context.get("substitute_sku") if "substitute_sku" in config.customer_context_keys else None
    # One line per fact, free-text notes last, so no wording check reads a note into the next fact.
    shown = sorted(
        ((k, v) for k, v in context.items() if v is not None and v != ""), key=lambda kv: "note" in kv[0]
    )
    internal_context = "".join(f"\n- {k.replace('_', ' ')}: {_readable(v)}" for k, v in shown)
    new_eta = next(
        (
            context.get(k)
            for k in ("new_eta", "new_promised_date")
            if context.get(k) and k in config.customer_context_keys
        ),
        None,
    )
    past_due = context.get("days_past_due")
    actions = Counter(n.resolution_action or "unrecorded" for n in ctx.neighbours)
    hours = [n.hours_to_resolve for n in ctx.neighbours if n.hours_to_resolve is not None]
    example = ""
    if ctx.neighbours:
        n = ctx.neighbours[0]
        example = fmt.neighbour.format_map(
            {
                "case_id": n.case_id,
                "resolution_action": n.resolution_action or "unrecorded",
                "outcome": n.outcome or "open",
                "resolution": n.resolution.strip(),
                "hours_to_resolve": "" if n.hours_to_resolve is None else f"{round(n.hours_to_resolve, 1)}",
            }
        )
    values: dict[str, Any] = {
        "order_id": order.order_id,
        "po_number": order.po_number,
        "customer_id": order.customer_id,
        "customer_tier": order.customer_tier.value,
        "order_date": format_date(order.order_date),
        "requested_date": order.requested_date and format_date(order.requested_date),
        "promised_date": order.promised_date and format_date(order.promised_date),
        "occurred_date": format_date(event.occurred_at.date()),
        "order_value": format_amount(order.order_value, order.currency),
        "carrier": order.carrier,
        "tracking_number": order.tracking_number,
        "site": order.site,
        "line_count": str(len(order.lines)),
        "lines": "; ".join(fmt.line.format_map(v) for _, v in lines),
        "short_lines": "; ".join(short),
        "price_lines": "; ".join(priced),
        "missing_field": str(missing).replace("_", " ") if missing else "",
        "substitute_sku": substitute,
        "label": ctx.label,
        "label_title": ctx.label.replace("_", " ").capitalize(),
        "severity": ctx.severity,
        "owner_team": ctx.owner_team,
        "confidence": f"{round(ctx.confidence, 2):.2f}",
        "abstained": "yes" if ctx.abstained else "",
        "predicted_action": ctx.predicted_action,
        "neighbour_count": str(len(ctx.neighbours)),
        "neighbour_actions": ", ".join(f"{a} ({c})" for a, c in actions.most_common()),
        "neighbour_median_hours": f"{round(_median(hours), 1)}" if hours else "",
        "neighbour_example": example,
        "description": event.description.strip(),
        "exception_code": event.exception_code,
        "source_system": event.source_system.value.upper(),
        "internal_context": internal_context,
        "has_customer_message": "yes" if event.customer_message else "",
        "customer_wrote": "yes" if event.customer_message else "",
        "new_eta": _readable_date(new_eta) if new_eta else "",
        "payment_overdue": "yes" if isinstance(past_due, int | float) and past_due > 0 else "",
    }
    return {k: "" if v is None else str(v) for k, v in values.items()}


def _readable(value: object) -> str:
    """A context value as a person writes it: yes/no, plain numbers, no underscores."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return number_text(value)
    return str(value).replace("_", " ")


def _readable_date(value: object) -> str:
    """An ISO date from the context as the templates write dates; other text as given."""
    try:
        return format_date(date.fromisoformat(str(value)[:10]))
    except ValueError:
        return str(value)


def _render(sentences: Iterable[Sentence], values: Mapping[str, str]) -> str:
    kept = [
        s.text.format_map(values)
        for s in sentences
        if all(values.get(v) for v in s.when) and not any(values.get(v) for v in s.unless)
    ]
    text = " ".join(kept)
    text = re.sub(r"[ \t]*\n[ \t]*", "\n", text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()


class TemplateDrafter:
    """Renders both drafts from the template files; ``version`` names the template set in force."""

    def __init__(self, templates: TemplateSet, config: FactCheckConfig) -> None:
        self.templates = templates
        self.config = config

    def render(self, ctx: DraftContext, kind: DraftKind) -> tuple[str, str]:
        """The draft text and the ``name@version`` of the template that wrote it."""
        values = template_variables(ctx, self.templates, self.config)
        category = self.templates.for_label(ctx.label, ctx.abstained)
        common = self.templates.common
        if kind == "summary":
            sentences = common.summary_header + category.summary + common.summary_footer
        else:
            sentences = common.customer_header + category.customer_update + common.customer_footer
        return _render(sentences, values), f"templates/{category.label}@{category.version}"
