"""Pure functions from what the pipeline produced (``TriageResult``) to what is stored and answered.

The gate's decision on each item is mapped once, into ``ItemRecord``s; the response's recommendations and
drafts are read off those records, so the stored rows and the answer can never disagree.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from triage.core.actors import Actor
from triage.core.clock import utc_now
from triage.core.events import ExceptionEvent
from triage.core.hashing import sha256_text
from triage.core.vocabulary import (
    GateDecision,
    GateMode,
    ItemKind,
    ItemStatus,
    Severity,
    case_status_after_gate,
)
from triage.domain.cases.records import ItemRecord, TriageRecord
from triage.domain.cases.schemas import (
    ClassificationRead,
    DraftRead,
    DraftsRead,
    FindingRead,
    GateRead,
    GateReasonRead,
    LabelConfidence,
    PredictedResolutionRead,
    RecommendationRead,
    SimilarCaseRead,
    TriageCase,
    VersionsRead,
)
from triage.engines.drafting import Draft, DraftSet, Finding
from triage.engines.policy.gate import GateResult, ItemDecision, novelty_threshold, recommended_actions
from triage.engines.retrieval import Neighbour, ResolutionVote

if TYPE_CHECKING:
    from triage.engines.classifier import Prediction
    from triage.engines.policy.models import Policy

NewId = Callable[[str], str]


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


@dataclass(frozen=True)
class Retrieved:
    neighbours: list[Neighbour]
    vote: ResolutionVote | None
    degraded: bool


@dataclass(frozen=True)
class TriageResult:
    """Everything the pipeline's steps produced for one event, before anything is stored."""

    event: ExceptionEvent
    actor: Actor
    body_hash: str
    text: str
    policy: Policy
    prediction: Prediction
    severity: str
    owner_team: str
    manual_desk_team: str
    retrieved: Retrieved
    drafts: DraftSet
    gate: GateResult
    degraded: list[str]
    versions: VersionsRead

    @property
    def team(self) -> str:
        """The team whose queue gets the case: the manual triage desk when the classification abstained."""
        return self.manual_desk_team if self.gate.abstained else self.owner_team


def triage_record(
    result: TriageResult, *, now: datetime | None = None, make_id: NewId = new_id
) -> TriageRecord:
    """The rows to store and the response to give for ``result``."""
    now = now or utc_now()
    items = item_records(result, make_id)
    gate = result.gate
    review_due_at = (
        now + timedelta(minutes=gate.review_due_minutes)
        if gate.review_due_minutes is not None and gate.decision != GateDecision.AUTO_APPROVED
        else None
    )
    case = case_response(result, items, case_id=make_id("case"), now=now, review_due_at=review_due_at)
    return TriageRecord(
        case=case,
        event=result.event,
        body_hash=result.body_hash,
        input_hash=sha256_text(result.text),
        items=items,
        neighbour_ids=[n.case_id for n in result.retrieved.neighbours],
        threshold=gate.threshold,
        actor=result.actor,
        order_value=result.event.order.order_value,
        team=result.team,
        review_due_at=review_due_at,
        escalation_role=gate.escalation_role,
        llm_error=result.drafts.error,
    )


def item_records(result: TriageResult, make_id: NewId = new_id) -> list[ItemRecord]:
    """One record per gated item: the recommended actions in catalogue order, then the two drafts."""
    decisions = {item.key: item for item in result.gate.items}
    vote = result.retrieved.vote
    actions = recommended_actions(result.policy, result.prediction.label, vote.action if vote else None)
    records = [
        _item(decisions[key], make_id("item"), None)
        for key in (f"recommendation:{action}" for action in actions)
        if key in decisions
    ]
    drafts = (result.drafts.summary, result.drafts.customer_update)
    records += [_item(decisions[f"draft:{d.kind}"], make_id("item"), d) for d in drafts]
    return records


def _item(decision: ItemDecision, item_id: str, draft: Draft | None) -> ItemRecord:
    return ItemRecord(
        item_id=item_id,
        kind=ItemKind(decision.kind),
        key=decision.key,
        action=decision.action,
        text=draft.text if draft else None,
        generator=draft.generator if draft else None,
        risk=decision.risk,
        status=ItemStatus(decision.status),
        requires_role=decision.requires_role,
        requires_team=decision.requires_team,
        four_eyes=decision.four_eyes,
        findings=[_finding(f).model_dump() for f in draft.findings] if draft else [],
        reasons=[{"rule": r.rule, "detail": r.detail} for r in decision.reasons],
    )


def _finding(finding: Finding) -> FindingRead:
    return FindingRead(
        check=finding.check,
        severity=finding.severity,
        span=finding.span,
        message=finding.message,
        start=finding.start,
        end=finding.end,
    )


def reason_text(reason: dict[str, Any]) -> str:
    """A stored gate reason as the one line the response shows."""
    return f"{reason['rule']}: {reason['detail']}"


def case_response(
    result: TriageResult,
    items: list[ItemRecord],
    *,
    case_id: str,
    now: datetime,
    review_due_at: datetime | None,
) -> TriageCase:
    """The ``TriageCase`` answered (and stored) for ``result``, its items read off ``items``."""
    gate, prediction = result.gate, result.prediction
    return TriageCase(
        case_id=case_id,
        event_id=result.event.event_id,
        status=case_status_after_gate(gate.mode, gate.decision),
        created_at=now,
        classification=ClassificationRead(
            label=prediction.label,
            confidence=round(prediction.confidence, 6),
            alternatives=[
                LabelConfidence(label=a.label, confidence=round(a.confidence, 6))
                for a in prediction.alternatives
            ],
            abstained=gate.abstained,
            abstain_reason=gate.abstain_reason,
            **_novelty(result),
        ),
        severity=Severity(result.severity),
        owner_team=result.team,
        similar_cases=[_similar_read(n) for n in result.retrieved.neighbours],
        predicted_resolution=_predicted(result.retrieved.vote),
        recommendations=[_recommendation(i) for i in items if i.kind == ItemKind.RECOMMENDATION],
        drafts=_drafts(items),
        gate=GateRead(
            decision=GateDecision(gate.decision),
            reasons=[GateReasonRead(item=r.item, rule=r.rule, detail=r.detail) for r in gate.reasons],
            mode=GateMode(gate.mode),
        ),
        versions=result.versions,
        degraded=result.degraded,
        review_due_at=review_due_at,
        updated_at=now,
    )


def _novelty(result: TriageResult) -> dict[str, Any]:
    """The classification's novelty fields: the score, the threshold in force, and whether it is novel."""
    score = result.prediction.novelty
    threshold = novelty_threshold(result.policy, result.prediction.novelty_threshold)
    return {
        "novelty": None if score is None else round(score, 6),
        "novelty_threshold": threshold,
        "novel": score is not None and threshold is not None and score >= threshold,
    }


def _recommendation(item: ItemRecord) -> RecommendationRead:
    return RecommendationRead(
        id=item.item_id,
        action=item.action or item.key,
        risk=item.risk,
        status=item.status,
        requires_role=item.requires_role,
        reasons=[reason_text(r) for r in item.reasons],
    )


def _drafts(items: list[ItemRecord]) -> DraftsRead:
    reads = {
        item.key.removeprefix("draft:"): DraftRead(
            item_id=item.item_id,
            text=item.text or "",
            generator=item.generator,
            status=item.status,
            findings=[FindingRead.model_validate(f) for f in item.findings],
            requires_role=item.requires_role,
        )
        for item in items
        if item.kind == ItemKind.DRAFT
    }
    return DraftsRead(summary=reads["summary"], customer_update=reads["customer_update"])


def _predicted(vote: ResolutionVote | None) -> PredictedResolutionRead | None:
    if vote is None:
        return None
    return PredictedResolutionRead(
        action=vote.action,
        confidence=vote.confidence,
        support=vote.support,
        weight=vote.weight,
        total_weight=vote.total_weight,
        reason=vote.reason,
    )


def _similar_read(n: Neighbour) -> SimilarCaseRead:
    return SimilarCaseRead(
        case_id=n.case_id,
        score=round(float(n.score), 6),
        label=n.label,
        summary=n.summary,
        resolution=n.resolution,
        resolution_action=n.resolution_action,
        outcome=n.outcome,
        hours_to_resolve=n.hours_to_resolve,
    )
