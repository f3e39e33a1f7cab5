"""The process's engines and services, built once (in the app's lifespan or by a CLI command) and injected.

Start-up loads in a worker thread so ``/health`` answers at once; ``/ready`` turns true only once the model
is loaded and the database is migrated. A case store that cannot be reached is not fatal: triage degrades.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from triage.core.actors import Actor
from triage.core.errors import ConfigurationError, InvalidInput, TriageError, UpstreamUnavailable
from triage.domain.cases.schemas import ResolutionCreate, TriageCase
from triage.domain.system.metrics import Metrics

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from triage.config import Settings
    from triage.domain.audit.services import AuditService
    from triage.domain.cases.flow import TriageFlow
    from triage.domain.cases.services import CaseService
    from triage.domain.reviews.services import ReviewService
    from triage.engines.classifier import TextClassifier
    from triage.engines.drafting import Drafter
    from triage.engines.embedder import Embedder
    from triage.engines.policy.loader import PolicyStore
    from triage.engines.policy.taxonomy import Taxonomy
    from triage.engines.retrieval import CaseStore

log = logging.getLogger("triage")


class Runtime:
    """Holds the engines and services of one process (a plain class: Litestar must not parse it as a model)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.sessions: sessionmaker[Session] | None = None
        self.audit: AuditService | None = None
        self.cases: CaseService | None = None
        self.reviews: ReviewService | None = None
        self.policies: PolicyStore | None = None
        self.taxonomy: Taxonomy | None = None
        self.embedder: Embedder | None = None
        self.classifier: TextClassifier | None = None
        self.store: CaseStore | None = None
        self.store_error: str | None = None
        self.drafter: Drafter | None = None
        self.flow: TriageFlow | None = None
        self.startup_error: str | None = None
        self.started = threading.Event()
        self._policy_mtime = 0.0
        self._reload_lock = threading.Lock()

    def start(self) -> None:
        """Build everything; records (never raises) a start-up failure so ``/ready`` can say what is wrong."""
        try:
            self._start()
        except TriageError as exc:
            self.startup_error = exc.detail
            log.error("start-up failed: %s", exc.detail)
        except Exception as exc:  # reported on /ready and logged with its traceback, never hidden
            self.startup_error = f"{type(exc).__name__}: {exc}"
            log.exception("start-up failed")
        finally:
            self.started.set()

    def _start(self) -> None:
        from triage.db.engine import create_session_factory
        from triage.db.migrate import upgrade_database
        from triage.domain.audit.services import AuditService
        from triage.domain.cases.flow import TriageFlow
        from triage.domain.cases.services import CaseService
        from triage.domain.reviews.services import ReviewService
        from triage.engines.classifier import load_classifier
        from triage.engines.drafting import build_drafter
        from triage.engines.embedder import CachingEmbedder, SentenceTransformerEmbedder
        from triage.engines.policy.loader import PolicyStore
        from triage.engines.policy.taxonomy import load_taxonomy

        settings = self.settings
        self.policies = PolicyStore(settings.policy_file, taxonomy_file=settings.taxonomy_file)
        self._policy_mtime = _mtime(settings.policy_file)
        self.taxonomy = load_taxonomy(settings.taxonomy_file)
        self.drafter = build_drafter(settings)
        upgrade_database(settings.resolved_database_url)
        self.sessions = create_session_factory(settings.resolved_database_url)
        self.audit = AuditService(self.sessions, settings)
        self.cases = CaseService(self.sessions, self.audit)
        self.reviews = ReviewService(self.sessions, self.audit, self.policies)
        self.embedder = CachingEmbedder(
            SentenceTransformerEmbedder(settings.embedding_model, batch_size=settings.embedding_batch_size)
        )
        model_dir = settings.resolved_model_dir
        if not (model_dir / "metadata.json").is_file():
            raise ConfigurationError(
                f"no classifier artifact at {model_dir}; run `triage bootstrap` or `triage train`"
            )
        self.classifier = load_classifier(model_dir, self.embedder)
        self.open_store()
        self.flow = TriageFlow(
            settings=settings,
            classifier=self.classifier,
            embedder=self.embedder,
            store=self.store,
            drafter=self.drafter,
            policies=self.policies,
            taxonomy=self.taxonomy,
            cases=self.cases,
        )

    def open_store(self) -> None:
        from triage.engines.retrieval import open_case_store

        assert self.embedder is not None
        try:
            store = open_case_store(
                self.settings, embedding_model_id=self.embedder.model_id, dimension=self.embedder.dimension
            )
            prepare = getattr(store, "prepare", None)
            if callable(prepare):
                prepare(self.embedder)  # the learnt space's encoder, built before the first request needs it
            self.store = store
            self.store_error = None
        except UpstreamUnavailable as exc:
            self.store, self.store_error = None, exc.detail
            log.warning("case store unavailable, triage runs degraded: %s", exc.detail)

    @property
    def ready(self) -> bool:
        return self.flow is not None and self.startup_error is None

    def require_flow(self) -> TriageFlow:
        if self.flow is None:
            raise UpstreamUnavailable(
                self.startup_error or "the service is starting; the model is not loaded yet"
            )
        return self.flow

    def require_cases(self) -> CaseService:
        if self.cases is None:
            raise UpstreamUnavailable(self.startup_error or "the service is starting")
        return self.cases

    def require_reviews(self) -> ReviewService:
        if self.reviews is None:
            raise UpstreamUnavailable(self.startup_error or "the service is starting")
        return self.reviews

    def require_audit(self) -> AuditService:
        if self.audit is None:
            raise UpstreamUnavailable(self.startup_error or "the service is starting")
        return self.audit

    async def record_resolution(
        self, case_id: str, body: ResolutionCreate, actor: Actor
    ) -> tuple[TriageCase, bool]:
        """Store the outcome, then add the resolved case to the history so the next similar event finds it."""
        case, created = await asyncio.to_thread(self.require_cases().record_resolution, case_id, body, actor)
        # Also on an identical repeat: the upsert is idempotent, and it indexes a case the store missed before.
        await asyncio.to_thread(self.add_to_history, case, body)
        return case, created

    def add_to_history(self, case: TriageCase, body: ResolutionCreate) -> None:
        """Index a resolved case; on a store outage it is logged, and repeating the same resolution indexes it."""
        from triage.core.events import classification_text
        from triage.engines.retrieval import HistoricalCase, vectors_for

        if self.store is None or self.embedder is None or self.cases is None:
            log.warning("case %s resolved but not indexed: the case store is unavailable", case.case_id)
            return
        event = self.cases.get_event(case.case_id)
        text = classification_text(event)
        historical = HistoricalCase(
            case_id=case.case_id,
            label=case.classification.label,
            text=text,
            summary=event.description[:280],
            resolution=body.resolution,
            resolution_action=body.resolution_action,
            outcome=body.outcome,
            hours_to_resolve=body.hours_to_resolve,
            customer_id=event.order.customer_id,
            site=event.order.site,
            source_system=event.source_system.value,
            resolved_at=datetime.now(UTC),
        )
        try:
            self.store.upsert([historical], vectors_for(self.store, self.embedder, [text]))
        except UpstreamUnavailable as exc:
            log.warning("case %s resolved but not indexed: %s", case.case_id, exc.detail)

    def components(self) -> dict[str, Any]:
        """What ``/ready`` reports, part by part."""
        store: dict[str, Any]
        if self.store is not None:
            health = self.store.health()
            store = {"ok": health.ok, "mode": health.mode, "points": health.points, "detail": health.detail}
        else:
            store = {"ok": False, "detail": self.store_error or "not started"}
        drafting = self.drafter.health() if self.drafter is not None else {"llm": "not started"}
        parts: dict[str, dict[str, Any]] = {
            "model": {
                "ok": self.classifier is not None,
                "version": self.classifier.version if self.classifier else None,
            },
            "database": {"ok": self.sessions is not None},
            "policy": {"ok": self.policies is not None, "version": self.policy_version},
            "case_store": store,
            "drafting": drafting,
        }
        for name, part in parts.items():
            if "ok" in part:
                self.metrics.component_up.labels(name).set(1 if part["ok"] else 0)
        self.metrics.llm_breaker_open.set(1 if drafting.get("llm") == "open" else 0)
        return parts

    @property
    def policy_version(self) -> str | None:
        return self.policies.current.version_hash if self.policies is not None else None

    def reload_policy(self, actor: Actor) -> bool:
        """Reload the policy file if it changed. The reload is audited BEFORE the new policy is put in force, so
        a failed audit write leaves the old policy in force; an invalid file is refused (audited) and never
        replaces the valid one."""
        assert self.policies is not None and self.audit is not None
        with self._reload_lock:
            before = self.policies.current.version_hash
            try:
                candidate = self.policies.load_candidate()
            except ConfigurationError as exc:
                self.audit.record_event(
                    actor,
                    "policy.reload_refused",
                    outcome="refused",
                    reason=exc.detail,
                    details={"kept": before},
                )
                raise InvalidInput(
                    f"the policy file is invalid; the previous policy stays in force: {exc.detail}"
                ) from exc
            after = candidate.version_hash
            if after == before:
                return False
            self.audit.record_event(
                actor,
                "policy.reloaded",
                outcome="applied",
                reason="policy file changed",
                details={"before": before, "after": after},
                policy_version=after,
            )
            self.policies.apply(candidate)
            return True

    def poll_policy(self) -> None:
        """Reload when the policy file's modification time moved (called periodically)."""
        mtime = _mtime(self.settings.policy_file)
        if mtime == self._policy_mtime or self.policies is None:
            return
        try:
            self.reload_policy(Actor.system())
        except InvalidInput as exc:
            log.error("policy reload refused, the previous policy stays in force: %s", exc.detail)
        # An audit failure (UpstreamUnavailable) propagates before this line, so the next poll tries again.
        self._policy_mtime = mtime

    def reconnect_store(self) -> None:
        """Retry a case store that was unavailable at start-up, so retrieval recovers without a restart."""
        if self.store is not None or self.embedder is None:
            return
        self.open_store()
        if self.store is not None and self.flow is not None:
            self.flow.store = self.store
            log.info("case store available again")

    def escalate_overdue(self) -> None:
        if self.reviews is not None:
            self.reviews.escalate_overdue(datetime.now(UTC))

    def anchor_audit(self) -> None:
        if self.audit is not None:
            self.audit.anchor()

    def close(self) -> None:
        if self.store is not None:
            self.store.close()


def _mtime(path: Any) -> float:
    try:
        return float(path.stat().st_mtime_ns)
    except OSError:
        return time.time()
