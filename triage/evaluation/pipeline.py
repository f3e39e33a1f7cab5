"""The whole pipeline over a dataset: each event through ``TriageFlow`` into a throw-away database.

Nothing is simulated: the same flow as ``POST /v1/exceptions`` classifies, retrieves from a history
collection built for the run, drafts, fact-checks, gates, persists and audits every case, so what the ``e2e``
suite measures (and the ``replay`` suite re-gates) is what the service would have stored.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from triage.core.actors import Actor, Role
from triage.domain.audit.services import AuditService
from triage.domain.cases.flow import FlowEngines, RetrievalSettings, TriageFlow
from triage.domain.cases.history import CaseStoreConnection
from triage.domain.cases.services import CaseService
from triage.domain.events.services import EventOutbox

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from triage.config import Settings
    from triage.core.events import ExceptionEvent
    from triage.domain.cases.schemas import TriageCase
    from triage.engines.datasets import LabelledText
    from triage.engines.embedder import Embedder
    from triage.engines.policy.models import Policy
    from triage.engines.policy.taxonomy import Taxonomy
    from triage.engines.retrieval import CaseStore

EVAL_ACTOR = Actor(subject="triage-eval", role=Role.WORKFLOW)
# The throw-away database's audit chain is never verified by anyone: a fixed key is enough.
EVAL_SIGNING_KEY = "triage-eval-throwaway-database"


@dataclass(frozen=True)
class StaticPolicy:
    """One policy for the whole run (the flow reads ``current`` once per case)."""

    current: Policy


@dataclass(frozen=True)
class PipelineRun:
    cases: list[TriageCase]
    events: list[ExceptionEvent]
    latency_ms: list[float]
    sessions: sessionmaker[Session]
    service: CaseService


def open_history(
    settings: Settings,
    embedder: Embedder,
    history: list[LabelledText],
    folder: Path,
    *,
    learn: bool,
    progress: bool,
) -> CaseStore:
    """A fresh embedded collection in ``folder`` holding ``history``: in a space learnt from its labels (as
    ``triage index`` on an empty collection) or in the frozen embedder's space (as ``triage bootstrap``)."""
    from triage.engines.retrieval import HistoricalCase, index_cases, learn_and_index, open_case_store

    store = open_case_store(
        settings,
        embedding_model_id=embedder.model_id,
        dimension=embedder.dimension,
        collection="eval",
        path=folder,
    )
    cases = [HistoricalCase.from_labelled(row, index) for index, row in enumerate(history)]
    fill = learn_and_index if learn else index_cases
    fill(store, embedder, cases, progress=progress)
    return store


def case_service(database_url: str, taxonomy: Taxonomy) -> tuple[sessionmaker[Session], CaseService]:
    from triage.db.engine import create_session_factory
    from triage.db.migrate import upgrade_database

    upgrade_database(database_url)
    sessions = create_session_factory(database_url)
    audit = AuditService(sessions, EVAL_SIGNING_KEY)
    return sessions, CaseService(sessions, audit, EventOutbox(sessions, "urn:triage-eval"), taxonomy=taxonomy)


def run_pipeline(
    *,
    engines: FlowEngines,
    store: CaseStore,
    policy: Policy,
    events: list[ExceptionEvent],
    database_url: str,
    settings: Settings,
) -> PipelineRun:
    """Triage ``events`` one after another, timing each call as the workflow would see it."""
    sessions, service = case_service(database_url, engines.taxonomy)
    connection = CaseStoreConnection(lambda: store)
    connection.reconnect()
    flow = TriageFlow(
        engines=engines,
        connection=connection,
        policies=StaticPolicy(policy),
        cases=service,
        retrieval=RetrievalSettings(similar_k=settings.similar_k, timeout_s=settings.qdrant_timeout_s),
    )

    async def triage_all() -> tuple[list[TriageCase], list[float]]:
        cases, latency = [], []
        for event in events:
            started = time.perf_counter()
            case, _ = await flow.triage(event, EVAL_ACTOR)
            latency.append((time.perf_counter() - started) * 1000.0)
            cases.append(case)
        return cases, latency

    cases, latency = asyncio.run(triage_all())
    return PipelineRun(cases, events, latency, sessions, service)
