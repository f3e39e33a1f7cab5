"""``triage model``: the registry from the command line (list, show, train, evaluate, promote, rollback, jobs).

Every change goes through ``ModelRegistry`` (the same rule, audit records and events as the API); a running
server follows the pointer and swaps to the model put in force here without a restart. Exit codes: 0 done,
1 refused by validation (the deciding figures are printed), 2 error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from triage.config import get_settings
from triage.core.actors import Actor, Role
from triage.core.errors import TriageError

if TYPE_CHECKING:
    from triage.commands.model_training import ModelTools, Report, TrainOptions
    from triage.domain.models.schemas import ModelVersionRead
    from triage.domain.models.services import ModelRegistry

EXIT_REFUSED = 1
EXIT_ERROR = 2


def _fail(exc: TriageError) -> int:
    print(f"error: {exc.detail}", file=sys.stderr)
    return EXIT_ERROR


def _tools() -> ModelTools:
    from triage.commands.model_training import model_tools

    return model_tools(get_settings())


def _registry_only() -> ModelRegistry:
    from triage.db.engine import create_session_factory
    from triage.db.migrate import upgrade_database
    from triage.domain.audit.services import AuditService
    from triage.domain.events.services import EventOutbox
    from triage.domain.models.services import ModelRegistry

    settings = get_settings()
    upgrade_database(settings.resolved_database_url)
    sessions = create_session_factory(settings.resolved_database_url)
    return ModelRegistry(
        sessions, AuditService(sessions, settings), EventOutbox(sessions, settings.event_source)
    )


def _pct(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) else "-"


def _heldout(version: ModelVersionRead) -> dict[str, Any]:
    evaluation = version.evaluation or {}
    return (evaluation.get("heldout") or {}).get("candidate") or {}


def run_list(args: argparse.Namespace) -> int:
    try:
        page = _registry_only().versions(limit=args.limit)
    except TriageError as exc:
        return _fail(exc)
    print(
        f"{'':2}{'id':28} {'status':9} {'recipe':6} {'rows':>5} {'fb':>4} {'acc':>6} {'auto-p':>6} {'auto-c':>6}  collection"
    )
    for v in page.items:
        mark = "* " if v.id == page.active_id else "  "
        fig = _heldout(v)
        auto = fig.get("auto") or {}
        print(
            f"{mark}{v.id:28} {v.status.value:9} {v.recipe.value:6} {v.learnt_from.get('history_rows') or '-':>5} "
            f"{v.learnt_from.get('feedback_rows') or 0:>4} {_pct(fig.get('accuracy')):>6} "
            f"{_pct(auto.get('precision')):>6} {_pct(auto.get('coverage')):>6}  {v.collection}"
        )
    print(f"in force: {page.active_id}; a rollback restores: {page.previous_id}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    try:
        version = _registry_only().get(args.id)
    except TriageError as exc:
        return _fail(exc)
    print(json.dumps(version.model_dump(mode="json"), indent=2))
    return 0


def print_evaluation(evaluation: dict[str, Any]) -> None:
    """Both models' figures side by side, then the verdict and the checks that failed."""
    for name in ("heldout", "recorded"):
        part = evaluation.get(name) or {}
        if not part.get("candidate"):
            print(f"{name}: {part.get('n', 0)} rows, nothing to compare")
            continue
        print(f"{name} ({part.get('n')} rows):  {'candidate':>10} {'in force':>10}")
        cand, cur = part["candidate"], part["in_force"]
        for label, key in (("accuracy", "accuracy"), ("macro-F1", "macro_f1"), ("ECE", "ece")):
            print(f"  {label:30} {_pct(cand[key]):>10} {_pct(cur[key]):>10}")
        for label, key in (
            ("precision at auto thresholds", "precision"),
            ("coverage at auto thresholds", "coverage"),
        ):
            print(f"  {label:30} {_pct(cand['auto'][key]):>10} {_pct(cur['auto'][key]):>10}")
    verdict = evaluation.get("verdict") or {}
    print(f"rule: {verdict.get('rule')}")
    if verdict.get("promotable"):
        print("verdict: promotable (not worse than the model in force)")
    else:
        print("verdict: REFUSED: " + "; ".join(verdict.get("failed") or []))


def run_evaluate(args: argparse.Namespace) -> int:
    try:
        evaluation = _tools().registry.evaluate(args.id)
    except TriageError as exc:
        return _fail(exc)
    if args.json:
        print(json.dumps(evaluation, indent=2))
    else:
        print_evaluation(evaluation)
    return 0 if evaluation["verdict"]["promotable"] else EXIT_REFUSED


def run_promote(args: argparse.Namespace) -> int:
    from triage.domain.models.schemas import PromoteCreate
    from triage.domain.models.services import PromotionRefused

    try:
        tools = _tools()
        result = tools.registry.promote(
            args.id, PromoteCreate(reason=args.reason, force=args.force), Actor.operator(Role.ADMIN)
        )
    except PromotionRefused as exc:
        print(f"refused: {exc.detail}", file=sys.stderr)
        evaluation = tools.registry.get(args.id).evaluation
        if evaluation:
            print_evaluation(evaluation)
        return EXIT_REFUSED
    except TriageError as exc:
        return _fail(exc)
    if result.evaluation:
        print_evaluation(result.evaluation)
    forced = " (forced)" if result.forced else ""
    replaced = result.replaced.id if result.replaced else None
    print(f"{result.active.id} in force{forced}, replacing {replaced} (generation {result.generation})")
    return 0


def run_rollback(args: argparse.Namespace) -> int:
    from triage.domain.models.schemas import RollbackCreate

    try:
        result = _tools().registry.rollback(RollbackCreate(reason=args.reason), Actor.operator(Role.ADMIN))
    except TriageError as exc:
        return _fail(exc)
    replaced = result.replaced.id if result.replaced else None
    print(
        f"rolled back: {result.active.id} in force again (collection {result.active.collection}), {replaced} retired"
    )
    return 0


def run_jobs(args: argparse.Namespace) -> int:
    try:
        jobs = _registry_only().jobs(limit=args.limit)
    except TriageError as exc:
        return _fail(exc)
    if not jobs:
        print("no model jobs")
    for job in jobs:
        line = f"{job.id} {job.kind} {job.status.value} {job.progress:.0%} step: {job.step}"
        line += f" base {job.base_version_id} candidate {job.candidate_version_id}"
        print(line)
        for what in (job.detail, job.error):
            if what:
                print(f"    {what}")
    return 0


def run_train(args: argparse.Namespace) -> int:
    from triage.commands.model_training import TrainOptions

    options = TrainOptions(
        tuned=args.tuned,
        from_feedback=args.from_feedback,
        data=args.data,
        sample=args.sample,
        seed=args.seed,
        actor=Actor.system() if args.job else Actor.operator(Role.ADMIN),
        progress=sys.stderr.isatty(),
    )
    if args.job:
        return _run_job(args, options)
    try:
        tools = _tools()
        candidate = _train(tools, options, None)
        print(f"registered {candidate.id} ({candidate.recipe.value}, collection {candidate.collection})")
        evaluation = tools.registry.evaluate(candidate.id) if tools.registry.active() else None
    except TriageError as exc:
        return _fail(exc)
    if evaluation:
        print_evaluation(evaluation)
    if args.promote:
        return _promote_if_better(tools, candidate.id, args)
    return 0


def _train(tools: ModelTools, options: TrainOptions, report: Report | None) -> ModelVersionRead:
    from triage.commands.model_training import build_candidate

    return build_candidate(tools, options, report)


def _promote_if_better(tools: ModelTools, version_id: str, args: argparse.Namespace) -> int:
    from triage.domain.models.schemas import PromoteCreate
    from triage.domain.models.services import PromotionRefused

    reason = args.reason or "trained and validated by `triage model train --promote`"
    try:
        result = tools.registry.promote(version_id, PromoteCreate(reason=reason), Actor.operator(Role.ADMIN))
    except PromotionRefused as exc:
        print(f"not promoted: {exc.detail}", file=sys.stderr)
        return EXIT_REFUSED
    except TriageError as exc:
        return _fail(exc)
    print(f"{result.active.id} in force (generation {result.generation})")
    return 0


def _run_job(args: argparse.Namespace, options: TrainOptions) -> int:
    """The background tuned-model job: progress in ``model_jobs``, promotion when it validates, a failure
    recorded with its reason. The lease is renewed by a heartbeat while the long steps run."""
    from triage.engines.embedder import configure_threads

    configure_threads(1)
    tools = _tools()
    job = BackgroundJob(tools, args.job)
    try:
        with job.heartbeat():
            candidate = _train(tools, options, job.report)
            job.report("validating against the model in force", 0.9, candidate_version_id=candidate.id)
            return job.promote(candidate.id)
    except BaseException as exc:
        job.failed(exc)
        raise


class BackgroundJob:
    def __init__(self, tools: ModelTools, job_id: str) -> None:
        self.tools = tools
        self.job_id = job_id
        self.lease_s = tools.settings.model_job_lease_s
        self._stop = threading.Event()

    def report(self, step: str, progress: float, **values: Any) -> None:
        print(f"[{progress:.0%}] {step}", file=sys.stderr, flush=True)
        self.tools.registry.report_job(
            self.job_id, lease_s=self.lease_s, step=step, progress=progress, **values
        )

    @contextlib.contextmanager
    def heartbeat(self) -> Iterator[None]:
        """Renew the job's lease every quarter lease while the block runs (a training step takes minutes)."""

        def beat() -> None:
            while not self._stop.wait(self.lease_s / 4):
                self.tools.registry.report_job(self.job_id, lease_s=self.lease_s)

        thread = threading.Thread(target=beat, name="model-job-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            thread.join(timeout=5)

    def promote(self, version_id: str) -> int:
        from triage.domain.models.schemas import JobStatus, PromoteCreate
        from triage.domain.models.services import PromotionRefused

        registry = self.tools.registry
        reason = "background tuning: the tuned candidate validated at least as good as the model in force"
        try:
            result = registry.promote(version_id, PromoteCreate(reason=reason), Actor.system())
        except PromotionRefused as exc:
            registry.finish_job(
                self.job_id, JobStatus.REFUSED, candidate_version_id=version_id, detail=exc.detail
            )
            print(f"not promoted: {exc.detail}", file=sys.stderr)
            return 0
        verdict = (result.evaluation or {}).get("verdict") or {}
        checks = ", ".join(
            f"{c['set']} {c['figure']} {c['candidate']} vs {c['in_force']}" for c in verdict.get("checks", [])
        )
        registry.finish_job(
            self.job_id,
            JobStatus.PROMOTED,
            candidate_version_id=version_id,
            step="promoted",
            detail=f"{version_id} in force (generation {result.generation}): {checks}",
        )
        print(f"{version_id} in force (generation {result.generation})", file=sys.stderr)
        return 0

    def failed(self, exc: BaseException) -> None:
        from triage.domain.models.schemas import JobStatus

        detail = exc.detail if isinstance(exc, TriageError) else f"{type(exc).__name__}: {exc}"
        # if even this fails, the server's watcher records the death from the exit code
        with contextlib.suppress(TriageError):
            self.tools.registry.finish_job(self.job_id, JobStatus.FAILED, error=detail)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``triage model ...`` to the ``triage`` parser."""
    model = subparsers.add_parser("model", help="model versions: list, train, evaluate, promote, rollback")
    sub = model.add_subparsers(dest="model_command", required=True, metavar="ACTION")
    listing = sub.add_parser("list", help="registered versions, the one in force marked *")
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(target="triage.commands.model:run_list")
    show = sub.add_parser("show", help="one version as JSON")
    show.add_argument("id")
    show.set_defaults(target="triage.commands.model:run_show")
    train = sub.add_parser(
        "train", help="train and register a candidate (never put in force unless --promote)"
    )
    train.add_argument(
        "--tuned", action="store_true", help="fine-tuned encoder member and a new learnt collection"
    )
    train.add_argument("--from-feedback", action="store_true", help="add the human-confirmed cases")
    train.add_argument("--data", type=Path, help="training file (default: TRIAGE_HISTORY_FILE)")
    train.add_argument("--sample", type=float, help="train on this fraction of the rows (e.g. 0.1)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--promote", action="store_true", help="promote it when validation finds it not worse")
    train.add_argument("--reason", help="the promotion's reason (with --promote)")
    train.add_argument("--job", help=argparse.SUPPRESS)
    train.set_defaults(target="triage.commands.model:run_train")
    evaluate = sub.add_parser("evaluate", help="validate a version against the model in force")
    evaluate.add_argument("id")
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(target="triage.commands.model:run_evaluate")
    promote = sub.add_parser("promote", help="validate and put a version in force (audited)")
    promote.add_argument("id")
    promote.add_argument("--reason", required=True)
    promote.add_argument("--force", action="store_true", help="even when validation finds it worse")
    promote.set_defaults(target="triage.commands.model:run_promote")
    rollback = sub.add_parser("rollback", help="put the previous version back in force (audited)")
    rollback.add_argument("--reason", required=True)
    rollback.set_defaults(target="triage.commands.model:run_rollback")
    jobs = sub.add_parser("jobs", help="model jobs (the background tuned model) and their progress")
    jobs.add_argument("--limit", type=int, default=20)
    jobs.set_defaults(target="triage.commands.model:run_jobs")
