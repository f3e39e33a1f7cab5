"""The model registry's database rules on SQLite and PostgreSQL: adoption once, the pointer's compare-and-swap,
the one model-job lease, human-confirmed cases read back with their final label."""

from __future__ import annotations

import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import WORKFLOW, make_event, make_record
from triage.core.actors import Actor
from triage.core.clock import utc_now
from triage.db.engine import unit_of_work
from triage.domain.audit.services import AuditService
from triage.domain.cases.schemas import ResolutionCreate
from triage.domain.cases.services import CaseService
from triage.domain.events.services import EventOutbox
from triage.domain.models.jobs import BACKGROUND_TUNING, STOPPED, BackgroundTuning
from triage.domain.models.repositories import ModelRepository
from triage.domain.models.schemas import JobStatus, Recipe
from triage.domain.models.services import ModelRegistry, ModelVersionCreate
from triage.domain.models.validation import PromotionRule, decide


def version(classifier: str = "c" * 64, collection: str = "case_history") -> ModelVersionCreate:
    return ModelVersionCreate(
        artifact_dir="models/default",
        classifier_version=classifier,
        recipe=Recipe.FROZEN,
        embedding_model="sentence-transformers/all-MiniLM-L6-v2",
        collection=collection,
        learnt_from={"history_rows": 10, "feedback_rows": 0},
    )


@pytest.fixture
def registry(
    sessions: sessionmaker[Session], audit_service: AuditService, event_outbox: EventOutbox
) -> ModelRegistry:
    return ModelRegistry(sessions, audit_service, event_outbox)


def test_adoption_happens_once_even_when_processes_race(registry: ModelRegistry) -> None:
    results: list[object] = []
    threads = [
        threading.Thread(target=lambda: results.append(registry.adopt(version(), Actor.system())))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    adopted = [r for r in results if r is not None]
    assert len(adopted) == 1
    page = registry.versions()
    assert [v.id for v in page.items] == [page.active_id]
    assert registry.pointer().generation == 1
    assert registry.adopt(version(), Actor.system()) is None


def test_the_pointer_changes_only_from_the_generation_read(
    registry: ModelRegistry, sessions: sessionmaker[Session]
) -> None:
    first = registry.adopt(version(), Actor.system())
    assert first is not None
    second = registry.register(version("d" * 64), Actor.system())
    repository = ModelRepository()
    with unit_of_work(sessions) as session:
        assert repository.swap_pointer(
            session, generation=1, active_id=second.id, previous_id=first.id, at=utc_now()
        )
    with unit_of_work(sessions) as session:  # a second writer that read generation 1 loses
        assert not repository.swap_pointer(
            session, generation=1, active_id=first.id, previous_id=None, at=utc_now()
        )
    pointer = registry.pointer()
    assert (pointer.active_id, pointer.previous_id, pointer.generation) == (second.id, first.id, 2)


def test_one_model_job_holds_the_lease(registry: ModelRegistry) -> None:
    job = registry.start_job("background_tuning", lease_s=60)
    assert job is not None and job.status == JobStatus.RUNNING
    assert registry.start_job("background_tuning", lease_s=60) is None
    registry.report_job(job.id, lease_s=60, step="training", progress=0.5)
    assert registry.job(job.id).step == "training"
    registry.finish_job(job.id, JobStatus.FAILED, error="killed")
    finished = registry.job(job.id)
    assert finished.status == JobStatus.FAILED and finished.error == "killed" and finished.finished_at
    assert registry.start_job("background_tuning", lease_s=60) is not None  # the lease was released


def test_confirmed_cases_carry_the_final_label(registry: ModelRegistry, case_service: CaseService) -> None:
    resolved, _ = case_service.create(make_record(make_event(), label="credit_hold"))
    case_service.create(make_record(make_event(), label="shipment_delay"))  # nobody confirmed it
    case_service.record_resolution(
        resolved.case_id,
        ResolutionCreate(outcome="resolved", resolution_action="release_credit_hold", resolution="released"),
        WORKFLOW,
    )
    confirmed = registry.confirmed_cases()
    assert [(c.case_id, c.label, c.source) for c in confirmed] == [
        (resolved.case_id, "credit_hold", "resolution")
    ]
    assert confirmed[0].event["event_id"]


def test_the_rule_refuses_a_worse_candidate_and_names_the_figures() -> None:
    good = {"accuracy": 0.92, "ece": 0.03, "auto": {"precision": 0.99, "coverage": 0.8}}
    worse = {"accuracy": 0.85, "ece": 0.03, "auto": {"precision": 0.97, "coverage": 0.6}}
    verdict = decide({"heldout": {"candidate": worse, "in_force": good}, "recorded": {"n": 0}})
    assert not verdict["promotable"]
    failed = {c["figure"] for c in verdict["checks"] if not c["ok"]}
    assert failed == {"precision_at_auto", "coverage_at_auto", "accuracy"}
    assert "coverage_at_auto: candidate 0.6 vs 0.8" in " ".join(verdict["failed"])
    same = decide({"heldout": {"candidate": good, "in_force": good}, "recorded": {"n": 0}})
    assert same["promotable"]
    # recorded cases count once there are enough of them
    recorded = {"n": PromotionRule().min_recorded, "candidate": worse, "in_force": good}
    assert not decide({"heldout": {"candidate": good, "in_force": good}, "recorded": recorded})["promotable"]


def test_bootstrap_can_replace_an_installed_version_whose_artifact_it_trained_again(
    registry: ModelRegistry,
) -> None:
    first = registry.adopt(version(), Actor.system())
    assert first is not None
    assert registry.adopt(version("e" * 64), Actor.system(), replacing="someone-else") is None
    again = registry.adopt(version("e" * 64), Actor.system(), replacing=first.id)
    assert again is not None and registry.pointer().active_id == again.id
    assert registry.pointer().previous_id is None  # nothing broken to roll back to
    assert registry.get(first.id).status == "failed"


def test_a_job_stopped_with_the_server_runs_again_one_that_failed_does_not(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    assert registry.adopt(version(), Actor.system()) is not None

    def tuning() -> BackgroundTuning:
        sleeping = [sys.executable, "-c", "import time; time.sleep(60)"]
        return BackgroundTuning(
            registry, command=lambda _job: sleeping, environment={}, log_dir=tmp_path, lease_s=60
        )

    first = tuning()
    job = first.start()
    assert job is not None
    first.close()
    stopped = registry.job(job.id)
    assert stopped.status == JobStatus.FAILED and (stopped.error or "").startswith(STOPPED)
    assert tuning()._why_not() is None  # started again with the next server
    failed = registry.start_job(BACKGROUND_TUNING, lease_s=60)
    assert failed is not None
    registry.finish_job(failed.id, JobStatus.FAILED, error="out of memory")
    assert failed.id in (tuning()._why_not() or "")


def test_a_version_that_fails_to_load_leaves_the_model_in_force_until_the_pointer_comes_back(
    registry: ModelRegistry, sessions: sessionmaker[Session]
) -> None:
    from tests.unit.test_model_slot import serving
    from triage.domain.models.follow import ModelFollower
    from triage.domain.models.slot import ModelSlot

    first = registry.adopt(version(), Actor.system())
    assert first is not None
    second = registry.register(version("d" * 64, "case_history_d"), Actor.system())
    served, _ = serving(first.id, "case_history")
    slot = ModelSlot(replace(served, generation=1), grace_s=30)
    calls: list[str] = []

    def load(model: Any, _: ModelSlot) -> Any:
        calls.append(model.id)
        raise RuntimeError("the tuned encoder could not be copied")  # not a TriageError: still handled

    follower = ModelFollower(registry, slot, cast(Any, load))
    repository = ModelRepository()
    with unit_of_work(sessions) as session:
        assert repository.swap_pointer(
            session, generation=1, active_id=second.id, previous_id=first.id, at=utc_now()
        )
    assert follower.follow() is False and follower.follow() is False
    assert calls == [second.id]  # refused once, not retried every poll
    assert slot.current.version_id == first.id and "RuntimeError" in (slot.error or "")
    with unit_of_work(sessions) as session:  # rolled back to the version served: the error is over
        assert repository.swap_pointer(
            session, generation=2, active_id=first.id, previous_id=second.id, at=utc_now()
        )
    assert follower.follow() is False
    assert slot.error is None and slot.current.version_id == first.id


def test_readiness_reports_a_job_table_it_cannot_read_instead_of_failing() -> None:
    from triage.core.errors import UpstreamUnavailable
    from triage.domain.system.services import _model_job_part

    def unreadable() -> dict[str, Any] | None:
        raise UpstreamUnavailable("database unreachable")

    part = _model_job_part(unreadable)
    assert part["status"] == "unknown" and "database unreachable" in part["detail"]
    assert _model_job_part(lambda: None) == {"status": "none"}


def test_no_tuned_job_starts_when_the_servers_encode_with_onnx_int8(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    assert registry.adopt(version(), Actor.system()) is not None
    tuning = BackgroundTuning(
        registry,
        command=lambda _job: ["true"],
        environment={},
        log_dir=tmp_path,
        lease_s=60,
        serves_tuned=False,
    )
    assert "onnx-int8" in (tuning._why_not() or "")
    tuning.tick()
    assert registry.jobs(limit=5, kind=BACKGROUND_TUNING) == []
