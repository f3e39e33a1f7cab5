"""How the service is put together: every engine and service is built here, once, from the settings.

``build_services`` is the one place that knows which class implements what; handlers receive the services by
dependency injection (``triage/domain/dependencies.py``), and the background jobs are listed by
``background_jobs``. Heavy imports (torch, qdrant) happen inside ``build_services``, so importing the app is
cheap and ``/health`` answers while the model loads.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from triage.config import Settings
from triage.core.actors import Actor
from triage.core.errors import ArtifactError, ConfigurationError, TriageError, UpstreamUnavailable
from triage.domain.audit.services import AuditService
from triage.domain.auth.repositories import ApiKeyRepository
from triage.domain.auth.services import DenialRecorder, KeyService
from triage.domain.cases.flow import FlowEngines, RetrievalSettings, TriageFlow
from triage.domain.cases.history import CaseHistory, CaseStoreConnection
from triage.domain.cases.relabel import RelabelService
from triage.domain.cases.services import CaseService
from triage.domain.events.services import EventOutbox
from triage.domain.events.webhooks import DeliveryPolicy, DeliveryWorker, WebhookService
from triage.domain.models.follow import ModelFollower
from triage.domain.models.jobs import BackgroundTuning
from triage.domain.models.schemas import ModelVersionRead, Recipe
from triage.domain.models.services import ModelRegistry, ModelVersionCreate, artifact_path
from triage.domain.models.slot import ModelSlot, ServingModel
from triage.domain.policy.services import PolicyService
from triage.domain.reviews.queue import ReviewQueue
from triage.domain.reviews.services import ReviewService
from triage.domain.system.dashboard import DashboardService
from triage.domain.system.metrics import Metrics
from triage.domain.system.services import ModelService, ReadinessService, ReadyParts

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from triage.engines.classifier import TextClassifier
    from triage.engines.embedder import Embedder
    from triage.engines.retrieval import CaseStore

log = logging.getLogger("triage")


@dataclass(frozen=True)
class Services:
    """Everything one process serves with, built once by :func:`build_services`."""

    settings: Settings
    sessions: sessionmaker[Session]
    audit: AuditService
    keys: KeyService
    cases: CaseService
    case_history: CaseHistory
    reviews: ReviewService
    review_queue: ReviewQueue
    policy: PolicyService
    model: ModelService
    dashboard: DashboardService
    flow: TriageFlow
    relabel: RelabelService
    events: EventOutbox
    webhooks: WebhookService
    delivery: DeliveryWorker
    models: ModelSlot
    registry: ModelRegistry
    follower: ModelFollower
    tuning: BackgroundTuning | None

    @property
    def connection(self) -> CaseStoreConnection:
        """The history collection of the model version in force."""
        return self.models.current.connection

    def close(self) -> None:
        self.audit.flush_denials(everything=True)
        if self.tuning is not None:
            self.tuning.close()
        self.models.close()


@dataclass(frozen=True)
class Job:
    """A background job the app runs every ``interval_s`` seconds (in a worker thread)."""

    name: str
    interval_s: float
    run: Callable[[], object]


def build_services(settings: Settings, readiness: ReadinessService) -> Services:
    """Build every engine and service (blocking: loads the model); attaches the parts ``/ready`` reports."""
    from triage.db.engine import create_session_factory
    from triage.db.migrate import upgrade_database
    from triage.engines.drafting import build_drafter
    from triage.engines.embedder import serving_embedder
    from triage.engines.policy.loader import PolicyStore
    from triage.engines.policy.taxonomy import load_taxonomy

    taxonomy = load_taxonomy(settings.taxonomy_file)
    policies = PolicyStore(settings.policy_file, taxonomy)
    drafter = build_drafter(settings, taxonomy=taxonomy)
    upgrade_database(settings.resolved_database_url)
    sessions = create_session_factory(settings.resolved_database_url)
    audit = AuditService(sessions, settings)
    events = EventOutbox(sessions, settings.event_source)
    cases = CaseService(sessions, audit, events, taxonomy=taxonomy)
    embedder = serving_embedder(settings, observer=readiness.metrics)
    delivery = delivery_policy(settings)
    policy = PolicyService(policies, audit, events)
    loader = ServingLoader(settings, embedder)
    registry = ModelRegistry(sessions, audit, events)
    models = ModelSlot(serving_model(settings, registry, loader), grace_s=settings.model_swap_grace_s)
    registry.validator = candidate_validator(settings, embedder, registry, models, policy)
    flow = TriageFlow(
        engines=FlowEngines(embedder=embedder, drafter=drafter, taxonomy=taxonomy),
        models=models,
        policies=policy,
        cases=cases,
        retrieval=RetrievalSettings(similar_k=settings.similar_k, timeout_s=settings.qdrant_timeout_s),
        observe=readiness.metrics.observe_stages,
    )
    services = Services(
        settings=settings,
        sessions=sessions,
        audit=audit,
        keys=KeyService.from_settings(settings, ApiKeyRepository(sessions)),
        cases=cases,
        case_history=CaseHistory(cases, models, embedder),
        reviews=ReviewService(sessions, audit, policy, events, drafter),
        review_queue=ReviewQueue(
            sessions,
            audit,
            events,
            claim_ttl_s=settings.review_claim_ttl_s,
            known_labels=frozenset(taxonomy.labels),
            known_teams=taxonomy.teams,
        ),
        events=events,
        webhooks=WebhookService(sessions, audit, delivery),
        delivery=DeliveryWorker(sessions, delivery),
        policy=policy,
        model=ModelService(models),
        dashboard=DashboardService(sessions),
        flow=flow,
        relabel=RelabelService(flow, cases),
        models=models,
        registry=registry,
        follower=ModelFollower(registry, models, loader.load),
        tuning=background_tuning(settings, registry) if settings.model_background_tuning else None,
    )
    tuning = services.tuning
    readiness.attach(
        ReadyParts(
            models=models,
            policy=policy,
            drafter=drafter,
            model_job=tuning.latest if tuning is not None else _latest_job(registry),
        )
    )
    return services


def _latest_job(registry: ModelRegistry) -> Callable[[], dict[str, Any] | None]:
    from triage.domain.models.jobs import BACKGROUND_TUNING, job_summary

    def latest() -> dict[str, Any] | None:
        jobs = registry.jobs(limit=1, kind=BACKGROUND_TUNING)
        return job_summary(jobs[0] if jobs else None)

    return latest


class ServingLoader:
    """Loads a model version for serving: its verified classifier and a connection to its collection."""

    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        self.settings = settings
        self.embedder = embedder

    def classifier(self, version: ModelVersionRead) -> TextClassifier:
        from triage.engines.classifier import load_classifier

        path = artifact_path(self.settings.home, version.artifact_dir)
        classifier = load_classifier(path, self.embedder)
        if classifier.version != version.classifier_version:
            raise ArtifactError(
                f"{path}: holds classifier {classifier.version[:12]}, not the registered "
                f"{version.classifier_version[:12]} (a foreign artifact)"
            )
        return classifier

    def connection(self, collection: str) -> CaseStoreConnection:
        settings, embedder = self.settings, self.embedder
        connection = CaseStoreConnection(
            lambda: open_prepared_store(settings, embedder, collection), collection=collection
        )
        connection.reconnect()
        return connection

    def load(self, version: ModelVersionRead, slot: ModelSlot | None = None) -> ServingModel:
        """The version ready to serve; an open connection to its collection is reused."""
        classifier = self.classifier(version)
        connection = slot.connection_for(version.collection) if slot is not None else None
        if connection is None:
            connection = self.connection(version.collection)
        return ServingModel(version.id, classifier, connection, version.collection)


def serving_model(settings: Settings, registry: ModelRegistry, loader: ServingLoader) -> ServingModel:
    """The version in force; on an install without a registry, the installed model is adopted first."""
    from triage.engines.classifier import load_classifier

    active = registry.active()
    if active is not None:
        return loader.load(active)
    model_dir = settings.resolved_model_dir
    if not (model_dir / "metadata.json").is_file():
        raise ConfigurationError(
            f"no classifier artifact at {model_dir}; run `triage bootstrap` or `triage train`"
        )
    classifier = load_classifier(model_dir, loader.embedder)
    connection = loader.connection(settings.qdrant.collection)
    store = connection.store
    adopted = registry.adopt(
        installed_version(settings, classifier.metadata, store.model_id if store is not None else None),
        Actor.system(),
    )
    if adopted is None:  # another process adopted first: serve what it put in force
        connection.close()
        active = registry.active()
        if active is None:
            raise ConfigurationError("the model registry names no model in force")
        return loader.load(active)
    return ServingModel(adopted.id, classifier, connection, adopted.collection)


def installed_version(settings: Settings, metadata: dict[str, Any], space: str | None) -> ModelVersionCreate:
    """The registry record of the model an install already has (``TRIAGE_MODEL_DIR``, the history collection)."""
    model_dir = settings.resolved_model_dir
    try:
        stored = str(model_dir.resolve().relative_to(settings.home.resolve()))
    except ValueError:
        stored = str(model_dir.resolve())
    recipe = metadata.get("recipe") or {}
    return ModelVersionCreate(
        artifact_dir=stored,
        classifier_version=str(metadata["version"]),
        recipe=Recipe.TUNED if recipe.get("tune_encoder", True) else Recipe.FROZEN,
        embedding_model=str(metadata.get("embedding_model")),
        collection=settings.qdrant.collection,
        learnt_from={
            "history_rows": metadata.get("rows"),
            "feedback_rows": 0,
            "data": str(settings.history_file),
        },
        training_data_sha256=metadata.get("training_data_sha256"),
        embedding_space=space,
        training_metrics=metadata.get("metrics"),
    )


def candidate_validator(
    settings: Settings, embedder: Embedder, registry: ModelRegistry, models: ModelSlot, policy: PolicyService
) -> Any:
    """The registry's validator, reusing the classifier this process serves for the version in force."""
    from triage.evaluation.candidates import CandidateValidator

    def loaded(version: ModelVersionRead) -> TextClassifier | None:
        serving = models.current
        return serving.classifier if serving.version_id == version.id else None

    return CandidateValidator(
        settings,
        embedder,
        policy=lambda: policy.current,
        confirmed=registry.confirmed_cases,
        loaded=loaded,
    )


def settings_environment(settings: Settings) -> dict[str, str]:
    """``settings`` as ``TRIAGE_*`` variables, so a child process (a model job) runs on the same ones."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        elif isinstance(value, list | dict):
            value = json.dumps(value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, Path):
            value = str(value.resolve())
        env[f"TRIAGE_{name.upper()}"] = str(value)
    return env


def background_tuning(settings: Settings, registry: ModelRegistry) -> BackgroundTuning:
    """The background tuned-model job: ``triage model train --tuned`` at the lowest priority, one thread."""
    environment = dict(os.environ) | settings_environment(settings)
    environment |= {
        "TRIAGE_MODEL_BACKGROUND_TUNING": "false",
        "TRIAGE_ENCODER_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }

    def command(job_id: str) -> list[str]:
        run = [sys.executable, "-m", "triage.cli", "model", "train", "--tuned", "--from-feedback"]
        run += ["--promote", "--job", job_id]
        return ["nice", "-n", "19", *run] if os.name == "posix" else run

    return BackgroundTuning(
        registry,
        command=command,
        environment=environment,
        log_dir=settings.home / "logs",
        lease_s=settings.model_job_lease_s,
        serves_tuned=settings.encoder_backend == "torch",
    )


def delivery_policy(settings: Settings) -> DeliveryPolicy:
    return DeliveryPolicy(
        source=settings.event_source,
        allowed_networks=tuple(settings.webhook_allowed_networks),
        max_attempts=settings.webhook_max_attempts,
        retry_base_s=settings.webhook_retry_base_s,
        lease_s=settings.webhook_lease_s,
    )


def open_prepared_store(settings: Settings, embedder: Embedder, collection: str | None = None) -> CaseStore:
    """A history collection (the setting's by default), with its vector space's encoder built before the first
    request needs it."""
    from triage.engines.retrieval import open_case_store

    store = open_case_store(
        settings, embedding_model_id=embedder.model_id, dimension=embedder.dimension, collection=collection
    )
    try:
        store.prepare(embedder)
    except BaseException:
        store.close()
        raise
    return store


def background_jobs(services: Services) -> list[Job]:
    """What runs periodically while the app serves."""
    settings = services.settings
    jobs = [
        Job("policy reload", settings.policy_poll_interval_s, services.policy.follow_file),
        Job("escalation", settings.escalation_interval_s, services.reviews.escalate_overdue),
        Job("audit anchor", settings.audit_anchor_interval_s, services.audit.anchor),
        Job("audit denials", settings.audit_denial_interval_s, services.audit.flush_denials),
        Job("case store reconnect", settings.store_retry_interval_s, services.models.reconnect),
        Job("webhook delivery", settings.webhook_poll_interval_s, services.delivery.deliver_due),
        Job("model follow", settings.model_poll_interval_s, services.follower.follow),
    ]
    if services.tuning is not None:
        jobs.append(Job("background tuning", settings.model_job_poll_interval_s, services.tuning.tick))
    return jobs


class ServiceRegistry:
    """The app's one source of services: empty while starting, then the built :class:`Services`.

    Also the authentication middleware's source (``AuthSource``): the key service and the denial recorder.
    """

    def __init__(
        self, settings: Settings, build: Callable[[Settings, ReadinessService], Services] = build_services
    ):
        self.settings = settings
        self.metrics = Metrics()
        self.readiness = ReadinessService(self.metrics)
        self._build = build
        self._services: Services | None = None

    def start(self) -> None:
        """Build the services; a failure is recorded (``/ready`` says what is wrong), never raised."""
        try:
            self._services = self._build(self.settings, self.readiness)
        except TriageError as exc:
            log.error("start-up failed: %s", exc.detail)
            self.readiness.fail(exc.detail)
        except Exception as exc:  # reported on /ready and logged with its traceback, never hidden
            log.exception("start-up failed")
            self.readiness.fail(f"{type(exc).__name__}: {exc}")

    @property
    def services(self) -> Services | None:
        return self._services

    def require(self) -> Services:
        """The services; ``UpstreamUnavailable`` (503) while starting or after a failed start."""
        if self._services is None:
            raise UpstreamUnavailable(
                self.readiness.error or "the service is starting; the model is not loaded yet"
            )
        return self._services

    def key_service(self) -> KeyService:
        return self.require().keys

    def denial_recorder(self) -> DenialRecorder | None:
        return self._services.audit.record_denial if self._services is not None else None

    def close(self) -> None:
        if self._services is not None:
            self._services.close()
