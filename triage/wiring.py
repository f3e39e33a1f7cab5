"""How the service is put together: every engine and service is built here, once, from the settings.

``build_services`` is the one place that knows which class implements what; handlers receive the services by
dependency injection (``triage/domain/dependencies.py``), and the background jobs are listed by
``background_jobs``. Heavy imports (torch, qdrant) happen inside ``build_services``, so importing the app is
cheap and ``/health`` answers while the model loads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from triage.config import Settings
from triage.core.errors import ConfigurationError, TriageError, UpstreamUnavailable
from triage.domain.audit.services import AuditService
from triage.domain.auth.repositories import ApiKeyRepository
from triage.domain.auth.services import DenialRecorder, KeyService
from triage.domain.cases.flow import FlowEngines, RetrievalSettings, TriageFlow
from triage.domain.cases.history import CaseHistory, CaseStoreConnection
from triage.domain.cases.relabel import RelabelService
from triage.domain.cases.services import CaseService
from triage.domain.events.services import EventOutbox
from triage.domain.events.webhooks import DeliveryPolicy, DeliveryWorker, WebhookService
from triage.domain.policy.services import PolicyService
from triage.domain.reviews.queue import ReviewQueue
from triage.domain.reviews.services import ReviewService
from triage.domain.system.dashboard import DashboardService
from triage.domain.system.metrics import Metrics
from triage.domain.system.services import ModelService, ReadinessService, ReadyParts

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

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
    connection: CaseStoreConnection
    events: EventOutbox
    webhooks: WebhookService
    delivery: DeliveryWorker

    def close(self) -> None:
        self.audit.flush_denials(everything=True)
        self.connection.close()


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
    from triage.engines.classifier import load_classifier
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
    model_dir = settings.resolved_model_dir
    if not (model_dir / "metadata.json").is_file():
        raise ConfigurationError(
            f"no classifier artifact at {model_dir}; run `triage bootstrap` or `triage train`"
        )
    classifier = load_classifier(model_dir, embedder)
    delivery = delivery_policy(settings)
    connection = CaseStoreConnection(lambda: open_prepared_store(settings, embedder))
    connection.reconnect()
    policy = PolicyService(policies, audit, events)
    flow = TriageFlow(
        engines=FlowEngines(classifier=classifier, embedder=embedder, drafter=drafter, taxonomy=taxonomy),
        connection=connection,
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
        case_history=CaseHistory(cases, connection, embedder),
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
        model=ModelService(classifier),
        dashboard=DashboardService(sessions),
        flow=flow,
        relabel=RelabelService(flow, cases),
        connection=connection,
    )
    readiness.attach(ReadyParts(classifier=classifier, policy=policy, connection=connection, drafter=drafter))
    return services


def delivery_policy(settings: Settings) -> DeliveryPolicy:
    return DeliveryPolicy(
        source=settings.event_source,
        allowed_networks=tuple(settings.webhook_allowed_networks),
        max_attempts=settings.webhook_max_attempts,
        retry_base_s=settings.webhook_retry_base_s,
        lease_s=settings.webhook_lease_s,
    )


def open_prepared_store(settings: Settings, embedder: Embedder) -> CaseStore:
    """The history collection, with its vector space's encoder built before the first request needs it."""
    from triage.engines.retrieval import open_case_store

    store = open_case_store(settings, embedding_model_id=embedder.model_id, dimension=embedder.dimension)
    try:
        store.prepare(embedder)
    except BaseException:
        store.close()
        raise
    return store


def background_jobs(services: Services) -> list[Job]:
    """What runs periodically while the app serves."""
    settings = services.settings
    return [
        Job("policy reload", settings.policy_poll_interval_s, services.policy.follow_file),
        Job("escalation", settings.escalation_interval_s, services.reviews.escalate_overdue),
        Job("audit anchor", settings.audit_anchor_interval_s, services.audit.anchor),
        Job("audit denials", settings.audit_denial_interval_s, services.audit.flush_denials),
        Job("case store reconnect", settings.store_retry_interval_s, services.connection.reconnect),
        Job("webhook delivery", settings.webhook_poll_interval_s, services.delivery.deliver_due),
    ]


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
