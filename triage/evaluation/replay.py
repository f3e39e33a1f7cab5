"""Re-gating recorded cases under a candidate policy (or with a candidate model's classification). Pure.

A ``RecordedCase`` is what the pipeline produced for one exception (classification, similar cases, the
drafts' fact-check findings, what was degraded) together with ``WhatHappened``: the recorded facts (the
resolution, the outcome, the time to resolve, a human's label, and, for cases the service triaged, its gate
decision and the humans' decision times). ``replay_case`` runs the gate of ``triage.engines.policy`` on the
stored inputs exactly as ``TriageFlow.gate`` builds them, so a replay answers "what would this policy have
done on these cases" with the same code that decides live.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

from triage.core.vocabulary import GateDecision, ItemStatus
from triage.engines.policy.gate import DraftCheck, GateInput, evaluate_gate, recommended_actions
from triage.engines.retrieval import Neighbour, predict_resolution

if TYPE_CHECKING:
    from triage.core.events import ExceptionEvent
    from triage.engines.classifier import Prediction
    from triage.engines.policy.models import Policy
    from triage.engines.policy.taxonomy import Taxonomy

AUTO = GateDecision.AUTO_APPROVED.value
REVIEW = GateDecision.NEEDS_REVIEW.value
BLOCKED = GateDecision.BLOCKED.value
CUSTOMER_UPDATE = "draft:customer_update"


@dataclass(frozen=True)
class WhatHappened:
    """Recorded facts only; nothing here is estimated."""

    true_label: str | None = None
    label_source: str = "unknown"
    """``dataset`` (the file's label), ``reviewer`` (a human's override or approval) or ``unknown``."""
    resolution_action: str | None = None
    outcome: str | None = None
    hours_to_resolve: float | None = None
    gate_decision: str | None = None
    """The service's decision at triage time (cases read from the database)."""
    first_decision_hours: float | None = None
    """Hours from triage to the first human decision on the case (database)."""
    customer_update_hours: float | None = None
    """Hours from triage until the customer update was approved, 0 if auto-approved (database)."""
    review_sla_met: bool | None = None
    """Whether the first human decision came before the case's review deadline (database)."""


@dataclass(frozen=True)
class RecordedCase:
    case_id: str
    event: ExceptionEvent
    triaged_at: datetime
    label: str
    confidence: float
    second_confidence: float
    neighbours: tuple[Neighbour, ...] = ()
    drafts: tuple[DraftCheck, ...] = ()
    degraded: tuple[str, ...] = ()
    happened: WhatHappened = field(default_factory=WhatHappened)
    novelty: float | None = None
    novelty_threshold: float | None = None
    """The model's own threshold (a replayed policy's ``novelty.threshold`` overrides it)."""

    def reclassified(self, prediction: Prediction) -> RecordedCase:
        """The same case as a candidate model classifies it (similar cases and drafts stay as recorded)."""
        second = prediction.alternatives[1].confidence if len(prediction.alternatives) > 1 else 0.0
        return replace(
            self,
            label=prediction.label,
            confidence=prediction.confidence,
            second_confidence=second,
            novelty=prediction.novelty,
            novelty_threshold=prediction.novelty_threshold,
        )


@dataclass(frozen=True)
class Replayed:
    """The gate's answer for one recorded case under one policy."""

    case: RecordedCase
    decision: str
    mode: str
    abstained: bool
    team: str
    severity: str
    review_minutes: int | None
    recommended: tuple[str, ...]
    auto_actions: tuple[str, ...]
    customer_update: str | None
    """The customer update draft's status (``auto_approved``, ``pending_review``, ``blocked``, ``shadow``)."""

    @property
    def wrong_label(self) -> bool | None:
        """Whether the predicted label differs from a human's (None when no human label is known)."""
        truth = self.case.happened.true_label
        return None if truth is None else truth != self.case.label

    @property
    def wrong_action(self) -> bool | None:
        """For an auto-approved case: whether no auto-approved action is the one the case was resolved by."""
        action = self.case.happened.resolution_action
        if self.decision != AUTO or action is None:
            return None
        return action not in self.auto_actions

    @property
    def wrong(self) -> bool:
        """An auto-approval that a human label or the recorded resolution contradicts."""
        return self.decision == AUTO and bool(self.wrong_label or self.wrong_action)


def gate_input(policy: Policy, taxonomy: Taxonomy, case: RecordedCase) -> tuple[GateInput, tuple[str, ...]]:
    """The gate's input for ``case`` under ``policy`` (as ``TriageFlow.gate`` builds it) and the actions
    the gate will recommend."""
    rules = policy.retrieval
    vote = predict_resolution(
        case.neighbours,
        min_score=rules.min_score,
        min_agreement=rules.min_agreement,
        min_support=rules.min_support,
    )
    order = case.event.order
    inp = GateInput(
        label=case.label,
        confidence=case.confidence,
        second_confidence=case.second_confidence,
        severity=taxonomy.severity_for(case.event, case.label),
        order_value=order.order_value,
        currency=order.currency,
        customer_tier=order.customer_tier.value,
        neighbours=sum(1 for n in case.neighbours if n.score >= rules.min_score),
        predicted_action=vote.action,
        predicted_confidence=vote.confidence if case.neighbours else None,
        drafts=list(case.drafts),
        degraded=list(case.degraded),
        novelty=case.novelty,
        novelty_threshold=case.novelty_threshold,
    )
    return inp, tuple(recommended_actions(policy, case.label, vote.action))


def replay_case(policy: Policy, taxonomy: Taxonomy, case: RecordedCase) -> Replayed:
    inp, recommended = gate_input(policy, taxonomy, case)
    result = evaluate_gate(policy, inp)
    statuses = {item.key: item.status for item in result.items}
    return Replayed(
        case=case,
        decision=result.decision,
        mode=result.mode,
        abstained=result.abstained,
        team=taxonomy.manual_desk_team if result.abstained else taxonomy.owner_team(case.label),
        severity=inp.severity,
        review_minutes=result.review_due_minutes,
        recommended=recommended,
        auto_actions=tuple(
            item.action
            for item in result.items
            if item.kind == "recommendation" and item.status == ItemStatus.AUTO_APPROVED and item.action
        ),
        customer_update=statuses.get(CUSTOMER_UPDATE),
    )


def replay(policy: Policy, taxonomy: Taxonomy, cases: Sequence[RecordedCase]) -> list[Replayed]:
    return [replay_case(policy, taxonomy, case) for case in cases]


def transitions(before: Sequence[Replayed], after: Sequence[Replayed]) -> dict[str, int]:
    """How many cases moved from one decision to another (``"needs_review -> auto_approved": 3``)."""
    counts: dict[str, int] = {}
    for old, new in zip(before, after, strict=True):
        key = f"{old.decision} -> {new.decision}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))
