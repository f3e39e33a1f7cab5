"""The triage pipeline, top to bottom: classify → retrieve → draft → check → gate → persist → audit.

Every step is a plain method with typed input and output. A step whose outside system fails adds its name to
``degraded`` and the flow goes on; the gate never auto-approves anything while something is degraded.
Persistence and the audit records are written in one transaction by ``CaseService.create``: if that fails,
the call fails (nothing happens unrecorded).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from triage.core.actors import Actor
from triage.core.errors import UpstreamUnavailable
from triage.core.events import ExceptionEvent, classification_text
from triage.core.hashing import sha256_json, sha256_text
from triage.domain.cases.records import ItemRecord, TriageRecord
from triage.domain.cases.schemas import (
    ClassificationRead,
    DraftRead,
    DraftsRead,
    FindingRead,
    GateDecision,
    GateRead,
    GateReasonRead,
    ItemStatus,
    LabelConfidence,
    PredictedResolutionRead,
    RecommendationRead,
    Severity,
    SimilarCaseRead,
    TriageCase,
    VersionsRead,
)
from triage.domain.cases.schemas_page import SimilarScope
from triage.engines.drafting import DraftContext, DraftSet, NeighbourFacts
from triage.engines.policy.gate import DraftCheck, GateInput, GateResult, evaluate_gate, recommended_actions
from triage.engines.retrieval import CaseFilters, Neighbour, ResolutionVote, predict_resolution, vectors_for

if TYPE_CHECKING:
    from triage.config import Settings
    from triage.domain.cases.services import CaseService
    from triage.engines.classifier import Prediction, TextClassifier
    from triage.engines.drafting import Drafter
    from triage.engines.embedder import Embedder
    from triage.engines.policy.loader import PolicyStore
    from triage.engines.policy.models import Policy
    from triage.engines.policy.taxonomy import Taxonomy
    from triage.engines.retrieval import CaseStore

log = logging.getLogger("triage")


@dataclass(frozen=True)
class Retrieved:
    neighbours: list[Neighbour]
    vote: ResolutionVote | None
    degraded: bool


class TriageFlow:
    """Runs one exception event through the pipeline and hands the result to persistence."""

    def __init__(
        self,
        *,
        settings: Settings,
        classifier: TextClassifier,
        embedder: Embedder,
        store: CaseStore | None,
        drafter: Drafter,
        policies: PolicyStore,
        taxonomy: Taxonomy,
        cases: CaseService,
    ) -> None:
        self.settings = settings
        self.classifier = classifier
        self.embedder = embedder
        self.store = store
        self.drafter = drafter
        self.policies = policies
        self.taxonomy = taxonomy
        self.cases = cases

    async def triage(
        self, event: ExceptionEvent, actor: Actor, scope: SimilarScope | None = None
    ) -> tuple[TriageCase, bool]:
        """Triage ``event``; returns the case and whether it was created (False: a replay of the same event)."""
        started_at = asyncio.get_running_loop().time()
        body_hash = sha256_json(event.model_dump(mode="json"))
        replay = await asyncio.to_thread(self.cases.find_replay, event.event_id, body_hash)
        if replay is not None:
            return replay, False

        text = classification_text(event)
        prediction = await self.classify(text)

        policy = self.policies.current  # one policy per case, even if a reload lands meanwhile
        retrieved = await self.retrieve(text, _filters(scope, event, prediction.label), policy)
        label = prediction.label
        severity = self.taxonomy.severity_for(event, label)
        owner_team = self.taxonomy.owner_team(label)

        rules = policy.category(label)
        abstains = (
            prediction.confidence < rules.thresholds.review
        )  # the gate decides; the drafts stay neutral
        drafts = await self.drafter.draft(
            DraftContext(
                event=event,
                label=label,
                confidence=prediction.confidence,
                abstained=abstains,
                severity=severity,
                owner_team=owner_team,
                neighbours=[_neighbour_facts(n) for n in retrieved.neighbours],
                predicted_action=retrieved.vote.action if retrieved.vote else None,
                started_at=started_at,
            )
        )

        degraded = (["retrieval"] if retrieved.degraded else []) + [
            d for d in drafts.degraded if d != "retrieval"
        ]
        gate = self.gate(policy, prediction, event, severity, retrieved, drafts, degraded)
        record = self.build_record(
            policy,
            event,
            actor,
            body_hash,
            text,
            prediction,
            severity,
            owner_team,
            retrieved,
            drafts,
            gate,
            degraded,
        )
        return await asyncio.to_thread(self.cases.create, record)

    async def classify(self, text: str) -> Prediction:
        predictions = await asyncio.to_thread(self.classifier.predict, [text])
        return predictions[0]

    async def retrieve(self, text: str, filters: CaseFilters | None, policy: Policy) -> Retrieved:
        """Similar historical cases and the resolution they vote for; degraded (not failed) when the store is."""
        if self.store is None:
            return Retrieved([], None, True)
        store = self.store

        def search() -> list[Neighbour]:
            vector = vectors_for(store, self.embedder, [text])[0]
            return store.search(vector, k=self.settings.similar_k, filters=filters)

        try:
            neighbours = await asyncio.wait_for(
                asyncio.to_thread(search), timeout=self.settings.qdrant_timeout_s
            )
        except (TimeoutError, UpstreamUnavailable) as exc:
            log.warning(
                "similar-case search unavailable, triage continues degraded: %s", str(exc) or "timed out"
            )
            return Retrieved([], None, True)
        vote = predict_resolution(
            neighbours,
            min_score=policy.retrieval.min_score,
            min_agreement=policy.retrieval.min_agreement,
            min_support=policy.retrieval.min_support,
        )
        return Retrieved(neighbours, vote, False)

    def gate(
        self,
        policy: Policy,
        prediction: Prediction,
        event: ExceptionEvent,
        severity: str,
        retrieved: Retrieved,
        drafts: DraftSet,
        degraded: list[str],
    ) -> GateResult:
        second = prediction.alternatives[1].confidence if len(prediction.alternatives) > 1 else 0.0
        return evaluate_gate(
            policy,
            GateInput(
                label=prediction.label,
                confidence=prediction.confidence,
                second_confidence=second,
                severity=severity,
                order_value=event.order.order_value,
                currency=event.order.currency,
                customer_tier=event.order.customer_tier.value,
                # Only neighbours close enough to count as evidence satisfy "needs similar cases".
                neighbours=sum(1 for n in retrieved.neighbours if n.score >= policy.retrieval.min_score),
                predicted_action=retrieved.vote.action if retrieved.vote else None,
                predicted_confidence=retrieved.vote.confidence if retrieved.vote else None,
                drafts=[
                    DraftCheck(
                        kind=d.kind,
                        generator=d.generator,
                        findings=[f"{f.check}: {f.span}" for f in d.findings],
                    )
                    for d in (drafts.summary, drafts.customer_update)
                ],
                degraded=degraded,
            ),
        )

    def build_record(
        self,
        policy: Policy,
        event: ExceptionEvent,
        actor: Actor,
        body_hash: str,
        text: str,
        prediction: Prediction,
        severity: str,
        owner_team: str,
        retrieved: Retrieved,
        drafts: DraftSet,
        gate: GateResult,
        degraded: list[str],
    ) -> TriageRecord:
        case_id = f"case_{uuid.uuid4().hex[:20]}"
        now = datetime.now(UTC)
        decisions = {item.key: item for item in gate.items}
        actions = recommended_actions(
            policy, prediction.label, retrieved.vote.action if retrieved.vote else None
        )

        items: list[ItemRecord] = []
        recommendations: list[RecommendationRead] = []
        for action in actions:
            decision = decisions.get(f"recommendation:{action}")
            if decision is None:
                continue
            item_id = f"item_{uuid.uuid4().hex[:20]}"
            reasons = [{"rule": r.rule, "detail": r.detail} for r in decision.reasons]
            items.append(
                ItemRecord(
                    item_id=item_id,
                    kind="recommendation",
                    key=decision.key,
                    action=action,
                    text=None,
                    generator=None,
                    risk=decision.risk,
                    status=decision.status,
                    requires_role=decision.requires_role,
                    requires_team=decision.requires_team,
                    four_eyes=decision.four_eyes,
                    reasons=reasons,
                )
            )
            recommendations.append(
                RecommendationRead(
                    id=item_id,
                    action=action,
                    risk=decision.risk,
                    status=ItemStatus(decision.status),
                    requires_role=decision.requires_role,
                    reasons=[f"{r.rule}: {r.detail}" for r in decision.reasons],
                )
            )

        draft_reads: dict[str, DraftRead] = {}
        for draft in (drafts.summary, drafts.customer_update):
            decision = decisions[f"draft:{draft.kind}"]
            item_id = f"item_{uuid.uuid4().hex[:20]}"
            findings = [
                FindingRead(
                    check=f.check,
                    severity=f.severity,
                    span=f.span,
                    message=f.message,
                    start=f.start,
                    end=f.end,
                )
                for f in draft.findings
            ]
            items.append(
                ItemRecord(
                    item_id=item_id,
                    kind="draft",
                    key=decision.key,
                    action=None,
                    text=draft.text,
                    generator=draft.generator,
                    risk=decision.risk,
                    status=decision.status,
                    requires_role=decision.requires_role,
                    requires_team=decision.requires_team,
                    four_eyes=decision.four_eyes,
                    findings=[f.model_dump() for f in findings],
                    reasons=[{"rule": r.rule, "detail": r.detail} for r in decision.reasons],
                )
            )
            draft_reads[draft.kind] = DraftRead(
                item_id=item_id,
                text=draft.text,
                generator=draft.generator,
                status=ItemStatus(decision.status),
                findings=findings,
                requires_role=decision.requires_role,
            )

        vote = retrieved.vote
        predicted = (
            PredictedResolutionRead(
                action=vote.action,
                confidence=vote.confidence,
                support=vote.support,
                weight=vote.weight,
                total_weight=vote.total_weight,
                reason=vote.reason,
            )
            if vote is not None
            else None
        )
        review_due_at = (
            now + timedelta(minutes=gate.review_due_minutes)
            if gate.review_due_minutes is not None and gate.decision != GateDecision.AUTO_APPROVED.value
            else None
        )
        team = self.taxonomy.manual_desk_team if gate.abstained else owner_team
        case = TriageCase(
            case_id=case_id,
            event_id=event.event_id,
            status=_case_status(gate),
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
            ),
            severity=Severity(severity),
            owner_team=team,
            similar_cases=[_similar_read(n) for n in retrieved.neighbours],
            predicted_resolution=predicted,
            recommendations=recommendations,
            drafts=DraftsRead(summary=draft_reads["summary"], customer_update=draft_reads["customer_update"]),
            gate=GateRead(
                decision=GateDecision(gate.decision),
                reasons=[GateReasonRead(item=r.item, rule=r.rule, detail=r.detail) for r in gate.reasons],
                mode=gate.mode,
            ),
            versions=VersionsRead(
                model=self.classifier.version,
                policy=policy.version_hash,
                prompts=self.drafter.prompts_version,
                embedding_model=self.embedder.model_id,
            ),
            degraded=sorted(set(degraded)),
            review_due_at=review_due_at,
        )
        return TriageRecord(
            case=case,
            event=event,
            body_hash=body_hash,
            input_hash=sha256_text(text),
            items=items,
            neighbour_ids=[n.case_id for n in retrieved.neighbours],
            threshold=gate.threshold,
            actor=actor,
            order_value=event.order.order_value,
            team=team,
            review_due_at=review_due_at,
            escalation_role=gate.escalation_role,
            llm_error=drafts.error,
        )


def _filters(scope: SimilarScope | None, event: ExceptionEvent, label: str) -> CaseFilters | None:
    if scope is None or not (scope.same_customer or scope.same_site or scope.same_category):
        return None
    return CaseFilters(
        customer_id=event.order.customer_id if scope.same_customer else None,
        site=event.order.site if scope.same_site else None,
        label=label if scope.same_category else None,
    )


def _case_status(gate: GateResult) -> str:
    if gate.mode == "shadow":
        return "shadow"
    if gate.mode == "off":
        return "not_triaged"
    return {"auto_approved": "auto_approved", "needs_review": "pending_review", "blocked": "blocked"}[
        gate.decision
    ]


def _neighbour_facts(n: Neighbour) -> NeighbourFacts:
    return NeighbourFacts(
        case_id=n.case_id,
        label=n.label,
        resolution_action=n.resolution_action,
        resolution=n.resolution,
        outcome=n.outcome,
        hours_to_resolve=n.hours_to_resolve,
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
