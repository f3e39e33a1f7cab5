"""The triage pipeline, top to bottom: classify → retrieve → draft → check → gate → persist → audit.

``TriageFlow.triage`` reads as its steps. Each step is a plain method with typed input and output; what they
produce together is one ``TriageResult``, which pure functions (``assembly.py``) turn into the stored rows and
the response. A step whose outside system fails adds its name to ``degraded`` and the flow goes on; the gate
never auto-approves anything while something is degraded. Persistence and the audit records are written in
one transaction by ``CaseService.create``: if that fails, the call fails (nothing happens unrecorded).

Each step's time is recorded per request (``triage.engines.stages``) and handed to ``observe`` (the
``triage_stage_seconds`` histograms at ``/metrics``); the encoder's share of the classify step is its own stage,
``embed``, recorded by the encoder itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from triage.core.actors import Actor
from triage.core.errors import UpstreamUnavailable
from triage.core.events import ExceptionEvent, classification_text
from triage.core.hashing import sha256_json
from triage.domain.cases.assembly import Retrieved, TriageResult, triage_record
from triage.domain.cases.schemas import TriageCase, VersionsRead
from triage.domain.cases.schemas_page import SimilarScope
from triage.domain.models.slot import ModelSlot, ServingModel
from triage.engines.drafting import DraftContext, DraftSet, NeighbourFacts
from triage.engines.policy.gate import DraftCheck, GateInput, GateResult, abstain_reason, evaluate_gate
from triage.engines.retrieval import CaseFilters, Neighbour, predict_resolution, vectors_for
from triage.engines.stages import StageClock, clock_for_request, stage

if TYPE_CHECKING:
    from triage.domain.cases.history import CaseStoreConnection
    from triage.domain.cases.services import CaseService
    from triage.engines.classifier import Prediction, TextClassifier
    from triage.engines.drafting import Drafter
    from triage.engines.embedder import Embedder
    from triage.engines.policy.models import Policy
    from triage.engines.policy.taxonomy import Taxonomy

log = logging.getLogger("triage")


class PolicySource(Protocol):
    """Where the policy in force is read (once per case, so a reload never splits a case)."""

    @property
    def current(self) -> Policy: ...


@dataclass(frozen=True)
class RetrievalSettings:
    similar_k: int
    timeout_s: float


class TriageFlow:
    """Runs one exception event through the pipeline and hands the result to persistence.

    The model version (classifier and history collection) is read from ``models`` once per case, so a case
    triaged while a new version goes in force is classified, searched and recorded with one version throughout.
    Without ``models``, the flow serves ``engines.classifier`` with ``connection`` (evaluation pipelines).
    """

    def __init__(
        self,
        *,
        engines: FlowEngines,
        policies: PolicySource,
        cases: CaseService,
        retrieval: RetrievalSettings,
        connection: CaseStoreConnection | None = None,
        models: ModelSlot | None = None,
        observe: StageObserver | None = None,
    ) -> None:
        self.engines = engines
        self.models = models or _fixed_slot(engines, connection)
        self.policies = policies
        self.cases = cases
        self.retrieval = retrieval
        self.observe = observe

    async def triage(
        self, event: ExceptionEvent, actor: Actor, scope: SimilarScope | None = None
    ) -> tuple[TriageCase, bool]:
        """Triage ``event``; returns the case and whether it was created (False: a replay of the same event)."""
        with clock_for_request() as clock:
            started = time.perf_counter()
            case, created = await self._triage(event, actor, scope)
            if created and self.observe is not None:
                self.observe(_stage_seconds(clock), time.perf_counter() - started)
        return case, created

    async def _triage(
        self, event: ExceptionEvent, actor: Actor, scope: SimilarScope | None
    ) -> tuple[TriageCase, bool]:
        started_at = asyncio.get_running_loop().time()
        with stage("replay"):
            body_hash = sha256_json(event.model_dump(mode="json"))
        policy = self.policies.current  # one policy per case, even if a reload lands meanwhile
        serving = self.models.current  # one model version per case, even if a promotion lands meanwhile
        text = classification_text(event)
        # One thread hand-off for the idempotency check and the classification (each costs a thread switch).
        found = await asyncio.to_thread(self.replay_or_classify, event.event_id, body_hash, text, serving)
        if isinstance(found, TriageCase):
            return found, False
        prediction = found
        with stage("retrieve"):
            retrieved = await self.retrieve(text, _filters(scope, event, prediction.label), policy, serving)
        severity = self.engines.taxonomy.severity_for(event, prediction.label)
        with stage("draft"):
            drafts = await self.draft(event, prediction, severity, retrieved, policy, started_at)
        degraded = _degraded(retrieved, drafts)
        with stage("gate"):
            gate = self.gate(policy, prediction, event, severity, retrieved, drafts, degraded)
        result = TriageResult(
            event=event,
            actor=actor,
            body_hash=body_hash,
            text=text,
            policy=policy,
            prediction=prediction,
            severity=severity,
            owner_team=self.engines.taxonomy.owner_team(prediction.label),
            manual_desk_team=self.engines.taxonomy.manual_desk_team,
            retrieved=retrieved,
            drafts=drafts,
            gate=gate,
            degraded=degraded,
            versions=self.versions(policy, serving),
        )
        with stage("persist"):  # the case, its audit records and its event: one transaction
            return await asyncio.to_thread(self.persist, result)

    @property
    def connection(self) -> CaseStoreConnection:
        """The connection to the history collection of the model version in force."""
        return self.models.current.connection

    def replay_or_classify(
        self, event_id: str, body_hash: str, text: str, serving: ServingModel
    ) -> TriageCase | Prediction:
        """The stored case if ``event_id`` was triaged with this body already (``Conflict`` if with another),
        else the classification of ``text``: a replay never reaches the model. Blocking (a worker thread's)."""
        with stage("replay"):  # the idempotency check: look the event id up
            replay = self.cases.find_replay(event_id, body_hash)
        if replay is not None:
            return replay
        with stage("classify"):
            return serving.classifier.predict([text])[0]

    async def retrieve(
        self, text: str, filters: CaseFilters | None, policy: Policy, serving: ServingModel | None = None
    ) -> Retrieved:
        """Similar historical cases and the resolution they vote for; degraded (not failed) when the store is."""
        store = (serving or self.models.current).connection.store
        if store is None:
            return Retrieved([], None, degraded=True)

        def search() -> list[Neighbour]:
            vector = vectors_for(store, self.engines.embedder, [text])[0]
            return store.search(vector, k=self.retrieval.similar_k, filters=filters)

        try:
            neighbours = await asyncio.wait_for(asyncio.to_thread(search), timeout=self.retrieval.timeout_s)
        except (TimeoutError, UpstreamUnavailable) as exc:
            log.warning(
                "similar-case search unavailable, triage continues degraded: %s", str(exc) or "timed out"
            )
            return Retrieved([], None, degraded=True)
        vote = predict_resolution(
            neighbours,
            min_score=policy.retrieval.min_score,
            min_agreement=policy.retrieval.min_agreement,
            min_support=policy.retrieval.min_support,
        )
        return Retrieved(neighbours, vote, degraded=False)

    async def draft(
        self,
        event: ExceptionEvent,
        prediction: Prediction,
        severity: str,
        retrieved: Retrieved,
        policy: Policy,
        started_at: float,
    ) -> DraftSet:
        """Both drafts, fact-checked; they stay neutral about the category when the classification abstains."""
        rules = policy.category(prediction.label)
        abstains = abstain_reason(rules, prediction.confidence, _second(prediction)) is not None
        return await self.engines.drafter.draft(
            DraftContext(
                event=event,
                label=prediction.label,
                confidence=prediction.confidence,
                abstained=abstains,
                severity=severity,
                owner_team=self.engines.taxonomy.owner_team(prediction.label),
                neighbours=[_neighbour_facts(n) for n in retrieved.neighbours],
                predicted_action=retrieved.vote.action if retrieved.vote else None,
                started_at=started_at,
            )
        )

    def persist(self, result: TriageResult) -> tuple[TriageCase, bool]:
        """Store ``result`` (the case, its audit records and its event in one transaction). Blocking."""
        return self.cases.create(triage_record(result))

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
        return evaluate_gate(
            policy,
            GateInput(
                label=prediction.label,
                confidence=prediction.confidence,
                second_confidence=_second(prediction),
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
                novelty=prediction.novelty,
                novelty_threshold=prediction.novelty_threshold,
            ),
        )

    def versions(self, policy: Policy, serving: ServingModel | None = None) -> VersionsRead:
        """The model, policy, prompts and embedding model that decided a case (to reconstruct it later)."""
        return VersionsRead(
            model=(serving or self.models.current).classifier.version,
            policy=policy.version_hash,
            prompts=self.engines.drafter.prompts_version,
            embedding_model=self.engines.embedder.model_id,
        )


@dataclass(frozen=True)
class FlowEngines:
    """The engines one triage uses (the classifier comes from the model slot when the flow has one)."""

    embedder: Embedder
    drafter: Drafter
    taxonomy: Taxonomy
    classifier: TextClassifier | None = None


StageObserver = Callable[[dict[str, float], float], None]
"""Receives one created case's seconds per stage and its total seconds."""


def _fixed_slot(engines: FlowEngines, connection: CaseStoreConnection | None) -> ModelSlot:
    if engines.classifier is None or connection is None:
        raise ValueError("a flow without a model slot needs engines.classifier and a connection")
    return ModelSlot(ServingModel(None, engines.classifier, connection, connection.collection or ""))


def _stage_seconds(clock: StageClock) -> dict[str, float]:
    """The clock's stages, each without the encoder time recorded inside it (that is ``embed``)."""
    seconds = dict(clock.seconds)
    if "classify" in seconds:
        seconds["classify"] = max(0.0, seconds["classify"] - seconds.get("embed", 0.0))
    return seconds


def _second(prediction: Prediction) -> float:
    return prediction.alternatives[1].confidence if len(prediction.alternatives) > 1 else 0.0


def _degraded(retrieved: Retrieved, drafts: DraftSet) -> list[str]:
    parts = {"retrieval"} if retrieved.degraded else set()
    return sorted(parts | set(drafts.degraded))


def _filters(scope: SimilarScope | None, event: ExceptionEvent, label: str) -> CaseFilters | None:
    if scope is None or not (scope.same_customer or scope.same_site or scope.same_category):
        return None
    return CaseFilters(
        customer_id=event.order.customer_id if scope.same_customer else None,
        site=event.order.site if scope.same_site else None,
        label=label if scope.same_category else None,
    )


def _neighbour_facts(n: Neighbour) -> NeighbourFacts:
    return NeighbourFacts(
        case_id=n.case_id,
        label=n.label,
        resolution_action=n.resolution_action,
        resolution=n.resolution,
        outcome=n.outcome,
        hours_to_resolve=n.hours_to_resolve,
    )
