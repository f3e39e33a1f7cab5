"""The exception taxonomy (``guardrails/taxonomy.yaml``) as typed models: owner team, severity, action names.

Severity is the category's base level, raised one step for every ``raise_when`` rule the event matches,
capped at the highest level. A rule with several conditions matches only when all of them hold.
``days_to_promise`` counts calendar days from the day the exception occurred (in its own offset) to the
promised date, or the requested date when nothing was promised; with neither date the rule never matches.
A label the taxonomy does not know (a model trained on other labels) is treated as ``other``.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from triage.core.events import ExceptionEvent
from triage.core.governed import InvalidAt, Where, load_governed
from triage.core.vocabulary import Severity

FALLBACK_LABEL = "other"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SeverityRule(_Strict):
    order_value_gte: Annotated[Decimal, Field(ge=0)] | None = None
    customer_tier_in: list[str] | None = None
    days_to_promise_lte: int | None = None

    @model_validator(mode="after")
    def _has_a_condition(self) -> SeverityRule:
        if (
            self.order_value_gte is None
            and self.customer_tier_in is None
            and self.days_to_promise_lte is None
        ):
            raise InvalidAt("", "a raise_when rule needs at least one condition")
        return self

    def matches(self, event: ExceptionEvent) -> bool:
        order = event.order
        if self.order_value_gte is not None and order.order_value < self.order_value_gte:
            return False
        if self.customer_tier_in is not None and order.customer_tier.value not in self.customer_tier_in:
            return False
        if self.days_to_promise_lte is not None:
            days = days_to_promise(event)
            if days is None or days > self.days_to_promise_lte:
                return False
        return True


class SeverityRules(_Strict):
    base: Severity
    raise_when: list[SeverityRule] = Field(default_factory=list)


class TaxonomyCategory(_Strict):
    description: str
    owner_team: str
    severity: SeverityRules
    actions: list[str] = Field(min_length=1)


class Taxonomy(_Strict):
    version: int | str
    severity_levels: list[Severity] = Field(min_length=1)
    """The levels this taxonomy uses, lowest first: some or all of ``Severity``, in its order."""
    categories: dict[str, TaxonomyCategory] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Taxonomy:
        problems: list[tuple[Where, str]] = []
        ordered = [level for level in Severity if level in self.severity_levels]
        if self.severity_levels != ordered:
            expected = ", ".join(ordered)
            problems.append(("severity_levels", f"must list each level once, lowest first: [{expected}]"))
        if FALLBACK_LABEL not in self.categories:
            problems.append(
                ("categories", f"needs an '{FALLBACK_LABEL}' category for the labels it does not know")
            )
        problems += [
            (
                ("categories", label, "severity", "base"),
                f"{category.severity.base.value!r} is not a severity level of this taxonomy "
                f"({', '.join(self.severity_levels)})",
            )
            for label, category in self.categories.items()
            if category.severity.base not in self.severity_levels
        ]
        if problems:
            raise InvalidAt.many(problems)
        return self

    @property
    def labels(self) -> list[str]:
        return list(self.categories)

    @property
    def manual_desk_team(self) -> str:
        """The team of the manual triage desk, where abstained cases go: the owner of ``other``."""
        return self.categories[FALLBACK_LABEL].owner_team

    def category(self, label: str) -> TaxonomyCategory:
        return self.categories.get(label) or self.categories[FALLBACK_LABEL]

    @property
    def teams(self) -> frozenset[str]:
        """Every team that owns a category (the manual triage desk included)."""
        return frozenset(category.owner_team for category in self.categories.values())

    def owner_team(self, label: str) -> str:
        return self.category(label).owner_team

    def actions(self, label: str) -> list[str]:
        return list(self.category(label).actions)

    def severity_for(self, event: ExceptionEvent, label: str) -> str:
        rules = self.category(label).severity
        level = self.severity_levels.index(rules.base)
        level += sum(1 for rule in rules.raise_when if rule.matches(event))
        return self.severity_levels[min(level, len(self.severity_levels) - 1)].value


def days_to_promise(event: ExceptionEvent) -> int | None:
    promise = event.order.promised_date or event.order.requested_date
    if promise is None:
        return None
    return (promise - event.occurred_at.date()).days


def load_taxonomy(path: Path) -> Taxonomy:
    """Read and validate a taxonomy file; ``ConfigurationError`` listing every problem if it is unusable."""
    return load_governed(path, Taxonomy)
