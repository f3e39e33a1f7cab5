"""Building a candidate model version: train the artifact, (for the tuned recipe) index a new collection, register.

Used by ``triage model train`` and the background tuned-model job. A candidate never touches the model in force:
its artifact goes to ``$TRIAGE_HOME/models/<id>``; the tuned recipe indexes the history into a new collection
``<collection>_<id>`` in a space learnt from it (blue/green: the collection in force stays as it is, for
rollback); the frozen recipe searches the collection in force (the same frozen space).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from triage.config import Settings
from triage.core.actors import Actor
from triage.core.errors import Conflict, InvalidInput
from triage.domain.models.schemas import ModelVersionRead, Recipe
from triage.domain.models.services import ModelRegistry, ModelVersionCreate, new_version_id

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from triage.domain.models.repositories import ResolvedCase
    from triage.engines.datasets import LabelledText
    from triage.engines.embedder import Embedder
    from triage.engines.retrieval import HistoricalCase

Report = Callable[[str, float], None]
"""Receives each step's name and the share of the steps done before it."""


@dataclass(frozen=True)
class TrainOptions:
    tuned: bool = False
    from_feedback: bool = False
    data: Path | None = None
    sample: float | None = None
    seed: int = 0
    actor: Actor = field(default_factory=Actor.system)
    progress: bool = False


@dataclass
class ModelTools:
    """What the model commands work with: the registry (with its validator) and the embedder."""

    settings: Settings
    sessions: sessionmaker[Session]
    registry: ModelRegistry
    embedder: Embedder


def model_tools(settings: Settings, embedder: Embedder | None = None) -> ModelTools:
    """The registry over the service's database, validating with the policy file in force."""
    from triage.db.engine import create_session_factory
    from triage.db.migrate import upgrade_database
    from triage.domain.audit.services import AuditService
    from triage.domain.events.services import EventOutbox
    from triage.engines.embedder import CachingEmbedder, SentenceTransformerEmbedder
    from triage.engines.policy.loader import PolicyStore
    from triage.evaluation.candidates import CandidateValidator

    upgrade_database(settings.resolved_database_url)
    sessions = create_session_factory(settings.resolved_database_url)
    registry = ModelRegistry(
        sessions, AuditService(sessions, settings), EventOutbox(sessions, settings.event_source)
    )
    if embedder is None:
        # both models of a comparison embed the same rows with the same frozen encoder: the cache halves it
        base = SentenceTransformerEmbedder(settings.embedding_model, batch_size=settings.embedding_batch_size)
        embedder = CachingEmbedder(base, size=20_000)
    policies = PolicyStore(settings.policy_file, taxonomy_file=settings.taxonomy_file)
    registry.validator = CandidateValidator(
        settings, embedder, policy=lambda: policies.current, confirmed=registry.confirmed_cases
    )
    return ModelTools(settings, sessions, registry, embedder)


def training_rows(tools: ModelTools, options: TrainOptions) -> tuple[list[LabelledText], dict[str, Any]]:
    """The rows to learn from (the history or ``data``, sampled, plus the human-confirmed cases) and the record
    of what they are."""
    from triage.engines.datasets import load_labelled
    from triage.evaluation.candidates import confirmed_rows

    source = options.data or tools.settings.history_file
    rows = load_labelled(source)
    if options.sample is not None:
        if not 0 < options.sample <= 1:
            raise InvalidInput("--sample must be a fraction in (0, 1]")
        rows = random.Random(options.seed).sample(rows, max(1, round(len(rows) * options.sample)))
    learnt: dict[str, Any] = {"data": str(source), "history_rows": len(rows), "sample": options.sample}
    feedback = tools.registry.confirmed_cases() if options.from_feedback else []
    learnt["feedback_rows"] = len(feedback)
    learnt["feedback_case_ids"] = [case.case_id for case in feedback]
    learnt["feedback_sources"] = sorted({case.source for case in feedback})
    return rows + confirmed_rows(feedback), learnt


def historical(resolved: ResolvedCase) -> HistoricalCase:
    from triage.core.events import ExceptionEvent, classification_text
    from triage.engines.retrieval import HistoricalCase

    event = ExceptionEvent.model_validate(resolved.event)
    return HistoricalCase(
        case_id=resolved.case_id,
        label=resolved.label,
        text=classification_text(event),
        summary=event.description[:280],
        resolution=resolved.resolution,
        resolution_action=resolved.resolution_action,
        outcome=resolved.outcome,
        hours_to_resolve=resolved.hours_to_resolve,
        customer_id=event.order.customer_id,
        site=event.order.site,
        source_system=event.source_system.value,
        resolved_at=resolved.resolved_at if isinstance(resolved.resolved_at, datetime) else None,
    )


def index_new_collection(tools: ModelTools, collection: str, rows: list[LabelledText], progress: bool) -> str:
    """Index the history rows and the service's resolved cases into the new ``collection``, in a space learnt
    from them; its space id."""
    from triage.engines.retrieval import HistoricalCase, learn_and_index, open_case_store

    cases = [HistoricalCase.from_labelled(row, index) for index, row in enumerate(rows)]
    cases += [historical(resolved) for resolved in tools.registry.resolved_cases()]
    store = open_case_store(
        tools.settings,
        embedding_model_id=tools.embedder.model_id,
        dimension=tools.embedder.dimension,
        collection=collection,
    )
    try:
        if store.count() > 0:
            raise Conflict(
                f"collection {collection!r} already holds cases; a new version needs a new collection"
            )
        learn_and_index(store, tools.embedder, cases, progress=progress)
        return store.model_id
    finally:
        store.close()


def build_candidate(
    tools: ModelTools, options: TrainOptions, report: Report | None = None
) -> ModelVersionRead:
    """Train and register a candidate (never put in force here); its evaluation is ``registry.evaluate``."""
    from triage.engines.classifier import train_classifier

    say = report or (lambda _step, _done: None)
    settings, registry = tools.settings, tools.registry
    in_force = registry.active()
    say("reading the training rows", 0.0)
    rows, learnt = training_rows(tools, options)
    version_id = new_version_id()
    out = settings.home / "models" / version_id
    say(f"training the {'tuned' if options.tuned else 'frozen'} classifier on {len(rows)} rows", 0.05)
    metadata = train_classifier(
        rows, tools.embedder, out, progress=options.progress, tune_encoder=options.tuned
    )
    space: str | None
    if options.tuned:
        collection = f"{settings.qdrant.collection}_{version_id}"
        say(f"indexing the new collection {collection}", 0.6)
        history = rows[: learnt["history_rows"]]
        space = index_new_collection(tools, collection, history, options.progress)
    else:
        collection = in_force.collection if in_force else settings.qdrant.collection
        space = in_force.embedding_space if in_force else None
    say("registering the candidate", 0.85)
    return registry.register(
        ModelVersionCreate(
            id=version_id,
            artifact_dir=f"models/{version_id}",
            classifier_version=str(metadata["version"]),
            recipe=Recipe.TUNED if options.tuned else Recipe.FROZEN,
            embedding_model=tools.embedder.model_id,
            collection=collection,
            learnt_from=learnt,
            training_data_sha256=metadata.get("training_data_sha256"),
            embedding_space=space,
            training_metrics=metadata.get("metrics"),
        ),
        options.actor,
    )
