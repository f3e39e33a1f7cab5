"""The governed policy as typed models: what ``guardrails/policy.yaml`` may say, and nothing else.

Every model forbids unknown keys so a typo (``auto_alowed``) fails validation instead of silently meaning
"default". Per-category settings are optional overrides of ``defaults`` and ``drafts``; ``Policy.category``
resolves them into one ``CategoryRules`` the gate reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from triage.core.governed import InvalidAt, Where
from triage.core.hashing import sha256_json
from triage.core.vocabulary import GateMode, Severity

Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


SEVERITIES = tuple(level.value for level in Severity)
"""The severities lowest first, from the service's one ``Severity``: review SLAs must name exactly these."""
Mode = GateMode


class Risk(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class ApproverRole(StrEnum):
    """The roles of ``triage.core.actors.Role`` that may approve an item (``workflow`` never may)."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"
    COMPLIANCE = "compliance"
    ADMIN = "admin"


class OnAmbiguity(StrEnum):
    ABSTAIN = "abstain"
    REVIEW = "review"


class Thresholds(Strict):
    auto: Probability
    review: Probability

    @model_validator(mode="after")
    def _auto_not_below_review(self) -> Thresholds:
        if self.auto < self.review:
            raise InvalidAt("auto", f"{self.auto} must be >= review ({self.review})")
        return self


class ThresholdsOverride(Strict):
    auto: Probability | None = None
    review: Probability | None = None


class Defaults(Strict):
    mode: Mode = Mode.RECOMMEND
    thresholds: Thresholds
    ambiguity_margin: Probability
    on_ambiguity: OnAmbiguity = OnAmbiguity.ABSTAIN
    no_auto_customer_tiers: list[Name] = Field(default_factory=list)


class MonetaryLimit(Strict):
    """Above ``above`` (order value, in ``limits_currency``), approval needs ``role`` (and ``team``)."""

    above: Annotated[Decimal, Field(ge=0)]
    role: ApproverRole
    team: Name | None = None


class ActionRule(Strict):
    risk: Risk
    approver_role: ApproverRole
    approver_team: Name | None = None
    monetary_limits: list[MonetaryLimit] = Field(default_factory=list)
    auto_allowed: bool = False
    four_eyes: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> ActionRule:
        if self.risk is Risk.HIGH and self.auto_allowed:
            raise InvalidAt("auto_allowed", "a high-risk action cannot have auto_allowed: true")
        if self.risk is Risk.HIGH and not self.four_eyes:
            raise InvalidAt("four_eyes", "a high-risk action needs four_eyes: true")
        bounds = [limit.above for limit in self.monetary_limits]
        if bounds != sorted(set(bounds)):
            raise InvalidAt("monetary_limits", "must be listed by strictly increasing 'above'")
        return self


class DraftRule(Strict):
    risk: Risk
    approver_role: ApproverRole
    auto_allowed: bool = False
    four_eyes: bool = False
    auto_generators: tuple[Literal["llm", "template"], ...] = ("template",)
    """Whose text may ever be auto-approved: an LLM that obeys an injected instruction can write polite text."""


class DraftRuleOverride(Strict):
    risk: Risk | None = None
    approver_role: ApproverRole | None = None
    auto_allowed: bool | None = None
    four_eyes: bool | None = None
    auto_generators: tuple[Literal["llm", "template"], ...] | None = None


class Drafts(Strict):
    summary: DraftRule
    customer_update: DraftRule


class DraftsOverride(Strict):
    summary: DraftRuleOverride | None = None
    customer_update: DraftRuleOverride | None = None


DRAFT_KINDS = tuple(Drafts.model_fields)
"""The kinds of draft the policy rules: the fields of ``Drafts``."""


class CategoryPolicy(Strict):
    mode: Mode | None = None
    thresholds: ThresholdsOverride | None = None
    ambiguity_margin: Probability | None = None
    on_ambiguity: OnAmbiguity | None = None
    no_auto_customer_tiers: list[Name] | None = None
    default_actions: list[Name] = Field(default_factory=list)
    actions: dict[Name, ActionRule] = Field(default_factory=dict)
    drafts: DraftsOverride | None = None

    @model_validator(mode="after")
    def _defaults_in_catalogue(self) -> CategoryPolicy:
        missing = [name for name in self.default_actions if name not in self.actions]
        if missing:
            raise InvalidAt("default_actions", f"not in this category's actions: {', '.join(missing)}")
        return self


class ReviewSla(Strict):
    minutes: Annotated[int, Field(gt=0, le=60 * 24 * 30)]
    escalation_role: ApproverRole


class RetrievalPolicy(Strict):
    min_score: Probability
    min_agreement: Probability
    min_support: Annotated[int, Field(ge=1, le=50)]
    require_neighbours_for_auto: bool = True
    require_vote_for_auto: bool = False
    """A recommendation is auto-approved only when the similar cases voted for that very action (not merely
    for none): where past cases split between actions, a person chooses."""


class NoveltyPolicy(Strict):
    """What the gate does with a text unlike the model's training rows (``engines/classifier/novelty.py``)."""

    review_novel: bool = True
    """A novel case is never auto-approved: a person reviews it, whatever the classifier's confidence."""
    threshold: Probability | None = None
    """Novelty at or above which a text is novel; unset, the threshold fitted with the model in force."""


class Policy(Strict):
    """The whole policy file. ``version`` is a human label; ``version_hash`` is the version recorded."""

    version: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    limits_currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "USD"
    defaults: Defaults
    drafts: Drafts
    categories: dict[Name, CategoryPolicy]
    review_slas: dict[str, ReviewSla]
    retrieval: RetrievalPolicy
    novelty: NoveltyPolicy = NoveltyPolicy()

    @model_validator(mode="after")
    def _complete_and_consistent(self) -> Policy:
        problems: list[tuple[Where, str]] = []
        missing = [level for level in SEVERITIES if level not in self.review_slas]
        unknown = [level for level in self.review_slas if level not in SEVERITIES]
        if missing or unknown:
            problems.append(
                (
                    "review_slas",
                    f"must name exactly the severities {', '.join(SEVERITIES)}"
                    + (f"; missing: {', '.join(missing)}" if missing else "")
                    + (f"; unknown: {', '.join(unknown)}" if unknown else ""),
                )
            )
        problems += [
            (
                ("categories", label, "thresholds", "auto"),
                f"{rules.thresholds.auto} must be >= review ({rules.thresholds.review}, with defaults applied)",
            )
            for label in self.categories
            if (rules := self.category(label)).thresholds.auto < rules.thresholds.review
        ]
        if problems:
            raise InvalidAt.many(problems)
        return self

    @cached_property
    def version_hash(self) -> str:
        """SHA-256 of the canonical JSON of the validated policy: what ``versions.policy`` records.

        Comments and formatting do not change it; any rule (or a default filled in by this model) does.
        """
        return sha256_json(self.model_dump(mode="json"))

    def category(self, label: str) -> CategoryRules:
        """The rules in force for ``label``: its overrides over ``defaults`` (only defaults if unlisted)."""
        own = self.categories.get(label) or CategoryPolicy()
        base = self.defaults
        override = own.thresholds or ThresholdsOverride()
        drafts = own.drafts or DraftsOverride()
        return CategoryRules(
            label=label,
            listed=label in self.categories,
            mode=own.mode or base.mode,
            thresholds=Thresholds.model_construct(
                auto=base.thresholds.auto if override.auto is None else override.auto,
                review=base.thresholds.review if override.review is None else override.review,
            ),
            ambiguity_margin=base.ambiguity_margin if own.ambiguity_margin is None else own.ambiguity_margin,
            on_ambiguity=own.on_ambiguity or base.on_ambiguity,
            no_auto_customer_tiers=tuple(
                base.no_auto_customer_tiers
                if own.no_auto_customer_tiers is None
                else own.no_auto_customer_tiers
            ),
            default_actions=tuple(own.default_actions),
            actions=dict(own.actions),
            drafts={
                kind: _merge_draft(getattr(self.drafts, kind), getattr(drafts, kind)) for kind in DRAFT_KINDS
            },
        )


def _merge_draft(base: DraftRule, override: DraftRuleOverride | None) -> DraftRule:
    if override is None:
        return base
    return base.model_copy(update=override.model_dump(exclude_none=True))


@dataclass(frozen=True)
class CategoryRules:
    """One category's effective rules (overrides resolved)."""

    label: str
    listed: bool
    mode: Mode
    thresholds: Thresholds
    ambiguity_margin: float
    on_ambiguity: OnAmbiguity
    no_auto_customer_tiers: tuple[str, ...]
    default_actions: tuple[str, ...]
    actions: dict[str, ActionRule]
    drafts: dict[str, DraftRule]
