"""``triage serve`` and ``triage bootstrap``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING

from triage.config import Settings, get_settings
from triage.core.errors import ArtifactError, TriageError

if TYPE_CHECKING:
    from triage.engines.embedder import Embedder
    from triage.engines.retrieval.progress import Progress, Step


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = get_settings()
    if args.workers > 1 and not settings.qdrant_url:
        print(
            "error: several workers need a Qdrant server (TRIAGE_QDRANT_URL): the embedded store is one process only",
            file=sys.stderr,
        )
        return 2
    from triage.serving import uvicorn_options

    print(f"serving on http://{args.host}:{args.port} (OpenAPI at /schema)", file=sys.stderr)
    uvicorn.run(
        "triage.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
        access_log=False,
        **uvicorn_options(settings),
    )
    return 0


def run_bootstrap(args: argparse.Namespace) -> int:
    """Build what ``serve`` needs and is missing; every step is skipped when its result already exists.

    The development keys come first (they need only the database), on stdout as ``export <ROLE>_KEY=...``
    lines; every step's progress and duration go to stderr. No step fine-tunes the encoder: the model is the
    frozen-encoder ensemble and the history is indexed in the embedder's own space, so a first run takes under
    two minutes on two cores, not several.
    """
    try:
        return _bootstrap()
    except TriageError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 2


def _bootstrap() -> int:
    from triage.db.migrate import upgrade_database
    from triage.engines.embedder import CachingEmbedder, SentenceTransformerEmbedder
    from triage.engines.policy.loader import PolicyStore
    from triage.engines.retrieval.progress import Progress

    started = time.perf_counter()
    report = Progress()
    settings = get_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    steps: list[Step] = []
    with report.step("database") as step:
        upgrade_database(settings.resolved_database_url)
    steps.append(step)
    with report.step("keys") as step:
        keys = _print_dev_keys(settings)
    steps.append(step)
    with report.step("policy") as step:
        PolicyStore(settings.policy_file, taxonomy_file=settings.taxonomy_file)
        report.say(f"policy {settings.policy_file}: valid")
    steps.append(step)
    with report.step("embedding model") as step:
        # Training embeds every history text, then indexing embeds them again: the cache makes that free.
        embedder = CachingEmbedder(
            SentenceTransformerEmbedder(settings.embedding_model, batch_size=settings.embedding_batch_size),
            size=50_000,
        )
    steps.append(step)
    with report.step("model") as step:
        trained = _bootstrap_model(settings, embedder, report)
    steps.append(step)
    with report.step("history") as step:
        indexed, space = _bootstrap_history(settings, embedder, report)
    steps.append(step)
    with report.step("model registry") as step:
        _bootstrap_registry(settings, space, report)
    steps.append(step)
    timings = ", ".join(f"{step.name} {step.seconds:.1f} s" for step in steps)
    report.say(
        f"bootstrap done in {time.perf_counter() - started:.1f} s ({timings}): model "
        f"{'trained' if trained else 'kept'}, {indexed} cases indexed, {len(keys)} keys created"
    )
    return 0


def _print_dev_keys(settings: Settings) -> dict[str, str]:
    """Create the development keys when the database has none, and print them on stdout at once."""
    from triage.commands.keys import create_dev_keys, export_lines
    from triage.db.engine import create_session_factory

    keys = create_dev_keys(settings, create_session_factory(settings.resolved_database_url))
    if keys:
        print("# development API keys, shown once: paste these lines into your shell (or eval them)")
        print("\n".join(export_lines(keys)), flush=True)
    elif settings.environment == "production":
        print("keys: none created in production; use `triage keys create`", file=sys.stderr)
    else:
        print(
            "keys: the database already has keys, none created (`triage keys create` makes one)",
            file=sys.stderr,
        )
    return keys


def _bootstrap_model(settings: Settings, embedder: Embedder, report: Progress) -> bool:
    """Train the default classifier (frozen-encoder ensemble) unless a loadable one exists; True if trained."""
    from triage.engines.classifier import load_classifier, train_classifier
    from triage.engines.datasets import load_labelled

    model_dir = settings.resolved_model_dir
    if (model_dir / "metadata.json").is_file():
        try:
            load_classifier(model_dir, embedder)
        except ArtifactError as exc:
            raise ArtifactError(
                f"the model at {model_dir} is unusable ({exc.detail}); remove that folder to let bootstrap "
                "train the default model again, or point TRIAGE_MODEL_DIR at an artifact made by `triage train`"
            ) from exc
        report.say(f"model: {model_dir} exists and loads, kept")
        return False
    report.say(f"model: training the default classifier on {settings.history_file}")
    rows = load_labelled(settings.history_file)
    metadata = train_classifier(rows, embedder, model_dir, progress=report.enabled, tune_encoder=False)
    cv = metadata["metrics"]["cv"]
    report.say(f"model: held-out accuracy {cv['accuracy']:.3f}, ECE {cv['ece']:.3f} -> {model_dir}")
    return True


def _bootstrap_registry(settings: Settings, space: str, report: Progress) -> None:
    """Record the installed model as the registry's first version, in force (once: later runs keep the registry,
    unless the version in force was the installed artifact and the model step had to train it again)."""
    from triage.core.actors import Actor
    from triage.db.engine import create_session_factory
    from triage.domain.audit.services import AuditService
    from triage.domain.events.services import EventOutbox
    from triage.domain.models.services import ModelRegistry, artifact_path
    from triage.wiring import installed_version

    sessions = create_session_factory(settings.resolved_database_url)
    registry = ModelRegistry(
        sessions, AuditService(sessions, settings), EventOutbox(sessions, settings.event_source)
    )
    # the model step has just trained or verified this artifact: its metadata is all the record needs
    metadata = json.loads((settings.resolved_model_dir / "metadata.json").read_text(encoding="utf-8"))
    active = registry.active()
    replacing = None
    if active is not None:
        same_folder = (
            artifact_path(settings.home, active.artifact_dir).resolve()
            == settings.resolved_model_dir.resolve()
        )
        if not same_folder or active.classifier_version == metadata["version"]:
            report.say(f"model registry: {active.id} in force, kept")
            return
        replacing = active.id
    adopted = registry.adopt(
        installed_version(settings, metadata, space), Actor.system(), replacing=replacing
    )
    if adopted is not None:
        report.say(
            f"model registry: {adopted.id} in force ({adopted.artifact_dir}, collection {adopted.collection})"
        )


def _bootstrap_history(settings: Settings, embedder: Embedder, report: Progress) -> tuple[int, str]:
    """Index the shipped history into an empty collection (in the embedder's space); how many were indexed and
    the collection's vector space."""
    from triage.commands.retrieval import bootstrap_history
    from triage.engines.retrieval import open_case_store

    store = open_case_store(settings, embedding_model_id=embedder.model_id, dimension=embedder.dimension)
    try:
        indexed = bootstrap_history(settings, embedder, store)
        report.say(f"history: {store.count()} cases in the collection ({indexed} indexed now)")
        space = store.model_id
    finally:
        store.close()
    return indexed, space


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``serve`` and ``bootstrap`` to the ``triage`` parser."""
    serve = subparsers.add_parser("serve", help="serve the HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="worker processes (needs a Qdrant server)")
    serve.set_defaults(target="triage.commands.service:run_serve")
    boot = subparsers.add_parser(
        "bootstrap", help="build what serve needs and is missing (safe to run twice)"
    )
    boot.set_defaults(target="triage.commands.service:run_bootstrap")
