"""Models as governed versions on a live server: promotion while a loopback client triages, refusal of a worse
candidate with its figures, concurrent promotions, rollback, bad artifacts, retraining from feedback, a dead job.

One server (uvicorn on loopback, the real app on a bootstrapped home) serves the whole module; candidates are
frozen-encoder models trained once on the template's small history (the tuned recipe is one test of its own).
The follow job is triggered directly, never waited for.
"""

from __future__ import annotations

import shutil
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from tests.integration.live_app import (
    ADMIN,
    AGENT,
    COMPLIANCE,
    QUIET_INTERVALS,
    STARTUP_TIMEOUT_S,
    WORKFLOW,
    all_teams,
    fresh_home,
    template_history,
)
from tests.integration.test_triage_flow import shipped_test_events
from triage.commands.model_training import (
    ModelTools,
    TrainOptions,
    build_candidate,
    model_tools,
    training_rows,
)
from triage.config import Settings
from triage.core.actors import Actor, Role
from triage.core.errors import Conflict, InvalidInput
from triage.domain.models.jobs import BackgroundTuning
from triage.domain.models.schemas import JobStatus, ModelStatus, ModelVersionRead, PromoteCreate
from triage.domain.models.services import ModelVersionCreate, artifact_path
from triage.wiring import ServiceRegistry, Services

pytestmark = pytest.mark.slow  # trains models and serves a live app


@dataclass
class Server:
    url: str
    settings: Settings
    registry: ServiceRegistry
    tokens: dict[Role, str]
    tools: ModelTools
    candidates: dict[str, ModelVersionRead] = field(default_factory=dict)

    @property
    def services(self) -> Services:
        return self.registry.require()

    def call(self, method: str, path: str, role: Role | None = ADMIN, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return httpx.request(method, self.url + path, headers=headers, timeout=120, **kwargs)

    def audit(self, action: str) -> list[dict[str, Any]]:
        response = self.call("GET", "/v1/audit", COMPLIANCE, params={"action": action, "limit": 50})
        assert response.status_code == 200, response.text
        return list(response.json()["items"])

    def follow(self) -> bool:
        return self.services.follower.follow()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from triage.app import create_app
    from triage.engines.embedder import CachingEmbedder, SentenceTransformerEmbedder

    home = fresh_home(tmp_path_factory.mktemp("models"))
    settings = Settings(
        home=home,
        environment="test",
        history_file=template_history(),
        model_validation_limit=200,
        rate_limit_per_minute=100_000,
        rate_limit_per_address_per_minute=1_000_000,
        model_swap_grace_s=0.0,
        **dict.fromkeys(
            (*QUIET_INTERVALS, "model_poll_interval_s", "model_job_poll_interval_s"), 24 * 3600.0
        ),
    )
    app = create_app(settings)
    registry: ServiceRegistry = app.state["registry"]
    port = _free_port()
    instance = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    try:
        assert registry.readiness.started.wait(STARTUP_TIMEOUT_S), "the services did not start in time"
        assert registry.readiness.ready, registry.readiness.error
        keys = registry.require().keys
        teams = all_teams(settings)
        tokens = {
            role: keys.create(
                role, f"test-{role.value}", teams if role in {AGENT, Role.SUPERVISOR} else ()
            ).key
            for role in Role
        }
        embedder = CachingEmbedder(SentenceTransformerEmbedder(), size=20_000)
        yield Server(f"http://127.0.0.1:{port}", settings, registry, tokens, model_tools(settings, embedder))
    finally:
        instance.should_exit = True
        thread.join(timeout=30)


def candidate(server: Server, name: str, **options: Any) -> ModelVersionRead:
    """A candidate trained once per module (frozen recipe unless said otherwise)."""
    if name not in server.candidates:
        actor = Actor.operator(Role.ADMIN)
        server.candidates[name] = build_candidate(server.tools, TrainOptions(actor=actor, **options))
    return server.tools.registry.get(server.candidates[name].id)


def test_the_installed_model_is_the_first_version_in_force(server: Server) -> None:
    page = server.call("GET", "/v1/models").json()
    assert len(page["items"]) == 1
    adopted = page["items"][0]
    assert adopted["status"] == "active" and page["active_id"] == adopted["id"]
    assert adopted["recipe"] == "frozen" and adopted["collection"] == "case_history"
    assert adopted["learnt_from"]["history_rows"] == len(template_history().read_text().splitlines())
    assert server.call("GET", f"/v1/models/{adopted['id']}").json()["classifier_version"]
    assert server.call("GET", "/v1/models/nope").status_code == 404
    model = server.call("GET", "/v1/model", WORKFLOW).json()
    assert model["id"] == adopted["id"] and model["version"] == adopted["classifier_version"]
    assert server.call("GET", "/v1/models", WORKFLOW).status_code == 403
    assert (
        server.call(
            "POST", f"/v1/models/{adopted['id']}/promote", COMPLIANCE, json={"reason": "x"}
        ).status_code
        == 403
    )
    ready = server.call("GET", "/ready", None).json()
    assert ready["components"]["model"]["id"] == adopted["id"]
    assert ready["components"]["model_job"] == {"status": "none"}


def test_a_candidate_on_a_tenth_of_the_history_is_refused_with_its_figures(server: Server) -> None:
    worse = candidate(server, "tenth", sample=0.1)
    assert worse.learnt_from["sample"] == 0.1 and worse.status == ModelStatus.CANDIDATE
    response = server.call("POST", f"/v1/models/{worse.id}/promote", json={"reason": "try the small one"})
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["title"] == "Promotion refused"
    verdict = problem["verdict"]
    assert not verdict["promotable"] and verdict["failed"]
    failed = [c for c in verdict["checks"] if not c["ok"]]
    assert all(c["candidate"] != c["in_force"] for c in failed)
    assert (
        problem["figures"]["candidate"]["heldout"]["accuracy"]
        < problem["figures"]["in_force"]["heldout"]["accuracy"]
    )
    [record] = server.audit("model.promotion_refused")
    assert record["reason"] == "try the small one" and record["outcome"] == "refused"
    assert (
        record["after"]["heldout"]["n"] == 200 and record["before"]["heldout"]["auto"]["coverage"] is not None
    )
    assert server.call("GET", "/v1/model", WORKFLOW).json()["id"] != worse.id


def test_the_model_commands(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.integration.live_app import _environment
    from triage.cli import main

    worse = candidate(server, "tenth", sample=0.1)
    environment = {
        "TRIAGE_HOME": str(server.settings.home),
        "TRIAGE_ENVIRONMENT": "test",
        "TRIAGE_HISTORY_FILE": str(template_history()),
        "TRIAGE_MODEL_VALIDATION_LIMIT": "200",
    }
    with _environment(**environment):
        assert main(["model", "list"]) == 0
        listing = capsys.readouterr().out
        active = server.services.registry.pointer().active_id
        assert f"* {active}" in listing and worse.id in listing
        assert main(["model", "show", worse.id]) == 0
        assert '"sample": 0.1' in capsys.readouterr().out
        assert main(["model", "promote", worse.id, "--reason", "from the command line"]) == 1
        printed = capsys.readouterr()
        assert "REFUSED" in printed.out and "precision at auto thresholds" in printed.out
        assert "refused" in printed.err
        assert main(["model", "jobs"]) == 0
        assert "no model jobs" in capsys.readouterr().out
    assert server.audit("model.promotion_refused")[-1]["actor_subject"].startswith("cli:")


def test_promotion_swaps_the_model_while_a_loopback_client_triages(server: Server) -> None:
    better = candidate(server, "seed1", seed=1)
    before = server.call("GET", "/v1/model", WORKFLOW).json()
    events = shipped_test_events(60)
    statuses: list[int] = []
    versions: list[str] = []
    errors: list[str] = []
    stop = threading.Event()

    def triage() -> None:
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {server.tokens[WORKFLOW]}"}
        ) as c:
            for event in events:
                if stop.is_set():
                    return
                try:
                    response = c.post("/v1/exceptions", json=event, timeout=60)
                except httpx.HTTPError as exc:
                    errors.append(repr(exc))
                    continue
                statuses.append(response.status_code)
                if response.status_code == 201:
                    versions.append(response.json()["versions"]["model"])

    client = threading.Thread(target=triage)
    client.start()
    while len(statuses) < 5:
        time.sleep(0.05)
    # forced: on 200 held-out rows a retrain's coverage may differ by more than the tolerance either way, and
    # this test is about the swap (validation has its own tests, and eval/model_swap.py an unforced promotion)
    body = {"reason": "seed 1 retrain", "force": True}
    response = server.call("POST", f"/v1/models/{better.id}/promote", json=body)
    assert response.status_code == 200, response.text
    assert server.follow()
    count_at_swap = len(statuses)
    client.join(timeout=300)
    stop.set()
    assert not errors and statuses and all(s == 201 for s in statuses), (errors, statuses)
    assert len(statuses) > count_at_swap, "the client kept triaging after the swap"
    assert versions[0] == before["version"] and versions[-1] == better.classifier_version
    assert server.call("GET", "/v1/model", WORKFLOW).json()["id"] == better.id
    [record] = server.audit("model.promoted")
    assert record["reason"] == "seed 1 retrain" and record["outcome"] in {"applied", "forced"}
    assert record["after"]["id"] == better.id and record["before"]["id"] == before["id"]
    for side in ("before", "after"):
        assert set(record[side]["heldout"]) >= {"accuracy", "ece", "auto", "per_category_auto"}
    feed = server.call("GET", "/v1/events", ADMIN, params={"types": "model.promoted"}).json()
    assert feed["items"][-1]["data"]["version"] == better.id


def test_a_worse_candidate_can_be_forced_with_a_reason(server: Server) -> None:
    worse = candidate(server, "tenth", sample=0.1)
    body = {"reason": "incident: the other one misroutes credit holds", "force": True}
    response = server.call("POST", f"/v1/models/{worse.id}/promote", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["forced"] is True
    record = server.audit("model.promoted")[-1]
    assert record["outcome"] == "forced" and record["reason"] == body["reason"]
    assert record["details"]["verdict"]["promotable"] is False
    assert server.follow()


def test_two_promotions_at_once_one_wins(server: Server) -> None:
    registry = server.services.registry
    adopted = [
        v
        for v in registry.versions().items
        if v.learnt_from.get("sample") is None and v.status == ModelStatus.RETIRED
    ]
    outcomes: list[str] = []

    def promote(version_id: str) -> None:
        try:
            registry.promote(version_id, PromoteCreate(reason="race", force=True), Actor.operator(Role.ADMIN))
            outcomes.append("ok")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=promote, args=(v.id,)) for v in adopted[:2]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "ok"]
    assert server.follow()


def test_rollback_restores_the_previous_version_and_its_collection(server: Server) -> None:
    pointer = server.services.registry.pointer()
    response = server.call("POST", "/v1/models/rollback", json={"reason": "back to the one before"})
    assert response.status_code == 200, response.text
    assert response.json()["active"]["id"] == pointer.previous_id
    assert server.follow()
    serving = server.services.models.current
    assert serving.version_id == pointer.previous_id
    assert serving.collection == server.services.registry.get(pointer.previous_id).collection
    record = server.audit("model.rolled_back")[-1]
    assert record["after"]["id"] == pointer.previous_id and record["before"]["id"] == pointer.active_id
    assert record["after"]["heldout"]["accuracy"] and record["before"]["heldout"]["accuracy"]
    case = server.call("POST", "/v1/exceptions", WORKFLOW, json=shipped_test_events(61)[-1]).json()
    assert case["versions"]["model"] == serving.classifier.version and case["similar_cases"]


def test_rollback_to_a_version_whose_artifact_is_gone_is_refused(server: Server) -> None:
    registry = server.services.registry
    previous = registry.get(registry.pointer().previous_id or "")
    folder = artifact_path(server.settings.home, previous.artifact_dir)
    moved = folder.with_name(folder.name + ".moved")
    folder.rename(moved)
    try:
        response = server.call("POST", "/v1/models/rollback", json={"reason": "try"})
        assert response.status_code == 422, response.text
        assert "missing" in response.json()["detail"]
        assert server.audit("model.rollback_refused")[-1]["details"]["version"] == previous.id
    finally:
        moved.rename(folder)
    registry.pointer()  # unchanged
    assert server.services.models.current.version_id == registry.pointer().active_id


def test_a_corrupt_artifact_is_refused_at_promotion_and_at_load(server: Server) -> None:
    registry = server.services.registry
    good = candidate(server, "seed2", seed=2)
    copy = candidate(server, "seed3", seed=3)
    weights = artifact_path(server.settings.home, copy.artifact_dir) / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])  # truncated
    response = server.call("POST", f"/v1/models/{copy.id}/promote", json={"reason": "x", "force": True})
    assert response.status_code == 422 and "weights.safetensors" in response.json()["detail"]
    assert registry.get(copy.id).status == ModelStatus.FAILED
    again = ModelVersionCreate(
        artifact_dir=copy.artifact_dir,
        classifier_version=copy.classifier_version,
        recipe=copy.recipe,
        embedding_model=copy.embedding_model,
        collection=copy.collection,
        learnt_from=copy.learnt_from,
    )
    with pytest.raises(InvalidInput, match="not registered"):  # nor registered again
        server.tools.registry.register(again, Actor.operator(Role.ADMIN))
    # at load: valid when promoted (by another replica, say), corrupt by the time this process loads it
    in_force = server.services.models.current
    assert (
        server.call("POST", f"/v1/models/{good.id}/promote", json={"reason": "y", "force": True}).status_code
        == 200
    )
    good_weights = artifact_path(server.settings.home, good.artifact_dir) / "weights.safetensors"
    saved = good_weights.read_bytes()
    good_weights.write_bytes(b"not safetensors")
    try:
        assert not server.follow()
        assert server.services.models.current is in_force
        detail = server.call("GET", "/ready", None).json()["components"]["model"]["detail"]
        assert good.id in detail and "stays in force" in detail
        response = server.call("POST", "/v1/exceptions", WORKFLOW, json=shipped_test_events(62)[-1])
        assert (
            response.status_code == 201
            and response.json()["versions"]["model"] == in_force.classifier.version
        )
    finally:
        good_weights.write_bytes(saved)
    assert server.call("POST", "/v1/models/rollback", json={"reason": "undo"}).status_code == 200
    assert not server.follow()  # the pointer names the version served again
    assert server.services.models.current.version_id == in_force.version_id


def test_from_feedback_learns_the_relabelled_cases(server: Server) -> None:
    event = shipped_test_events(63)[-1]
    case = server.call("POST", "/v1/exceptions", WORKFLOW, json=event).json()
    label = "credit_hold" if case["classification"]["label"] != "credit_hold" else "shipment_delay"
    body = {"label": label, "reason": "it was a credit hold", "expected_version": case["version"]}
    assert server.call("POST", f"/v1/cases/{case['case_id']}/relabel", AGENT, json=body).status_code == 200
    rows, learnt = training_rows(server.tools, TrainOptions(from_feedback=True))
    assert case["case_id"] in learnt["feedback_case_ids"] and "relabel" in learnt["feedback_sources"]
    [row] = [r for r in rows if r.case_id == case["case_id"]]
    assert row.label == label and event["description"] in row.text
    assert learnt["history_rows"] + learnt["feedback_rows"] == len(rows)
    plain, _ = training_rows(server.tools, TrainOptions())
    assert len(plain) == learnt["history_rows"]


def test_a_background_job_that_dies_leaves_the_model_and_says_why(server: Server, tmp_path: Path) -> None:
    registry = server.services.registry
    in_force = server.services.models.current
    script = "import sys; print('training failed: out of memory'); sys.exit(3)"
    tuning = BackgroundTuning(
        registry,
        command=lambda _job: [sys.executable, "-c", script],
        environment={},
        log_dir=tmp_path,
        lease_s=60,
    )
    job = tuning.start()
    assert job is not None
    assert (
        BackgroundTuning(
            registry, command=lambda _j: ["true"], environment={}, log_dir=tmp_path, lease_s=60
        ).start()
        is None
    )
    assert tuning._process is not None
    tuning._process.wait(timeout=30)
    tuning.tick()
    failed = registry.job(job.id)
    assert (
        failed.status == JobStatus.FAILED
        and "code 3" in (failed.error or "")
        and "out of memory" in (failed.error or "")
    )
    assert server.services.models.current is in_force
    jobs = server.call("GET", "/v1/models/jobs").json()["items"]
    assert jobs[0]["id"] == job.id and jobs[0]["status"] == "failed"
    assert server.call("GET", "/ready", None).json()["components"]["model_job"]["status"] == "failed"
    missing = BackgroundTuning(
        registry,
        command=lambda _j: [str(tmp_path / "no-such-program")],
        environment={},
        log_dir=tmp_path,
        lease_s=60,
    ).start()
    assert (
        missing is not None
        and missing.status == JobStatus.FAILED
        and "could not be started" in (missing.error or "")
    )
    leftover = registry.start_job("background_tuning", lease_s=1)  # the lease was released
    assert leftover is not None
    registry.finish_job(leftover.id, JobStatus.FAILED, error="a test's job")


def test_a_tuned_candidate_serves_from_its_own_collection_and_rolls_back(
    server: Server, tmp_path: Path
) -> None:
    small = tmp_path / "history-300.jsonl"
    small.write_text(
        "".join(template_history().read_text().splitlines(keepends=True)[:300]), encoding="utf-8"
    )
    tuned = candidate(server, "tuned", tuned=True, data=small)
    assert tuned.recipe.value == "tuned" and tuned.collection.endswith(tuned.id)
    assert tuned.embedding_space and "+tuned:" in tuned.embedding_space
    in_force = server.services.models.current
    assert (server.settings.home / "edge" / tuned.collection).is_dir()
    body = {"reason": "tuned space", "force": True}
    assert server.call("POST", f"/v1/models/{tuned.id}/promote", json=body).status_code == 200
    assert server.follow()
    assert server.services.models.current.collection == tuned.collection
    case = server.call("POST", "/v1/exceptions", WORKFLOW, json=shipped_test_events(64)[-1]).json()
    assert case["versions"]["model"] == tuned.classifier_version and case["similar_cases"]
    assert server.call("POST", "/v1/models/rollback", json={"reason": "back"}).status_code == 200
    assert server.follow()
    assert server.services.models.current.collection == in_force.collection
    assert server.services.models.current.version_id == in_force.version_id
    shutil.rmtree(tmp_path, ignore_errors=True)
