"""``triage serve`` and ``triage bootstrap``."""

from __future__ import annotations

import argparse
import sys
import time

from triage.config import get_settings
from triage.core.errors import ArtifactError, TriageError


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = get_settings()
    if args.workers > 1 and not settings.qdrant_url:
        print(
            "error: several workers need a Qdrant server (TRIAGE_QDRANT_URL): the embedded store is one process only",
            file=sys.stderr,
        )
        return 2
    print(f"serving on http://{args.host}:{args.port} (OpenAPI at /schema)", file=sys.stderr)
    uvicorn.run(
        "triage.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
        access_log=False,
    )
    return 0


def run_bootstrap(args: argparse.Namespace) -> int:
    """Build what ``serve`` needs and is missing; every step is skipped when its result already exists."""
    try:
        return _bootstrap()
    except TriageError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 2


def _bootstrap() -> int:
    from triage.commands.keys import create_dev_keys
    from triage.commands.retrieval import bootstrap_history
    from triage.db.engine import create_session_factory
    from triage.db.migrate import upgrade_database
    from triage.engines.classifier import load_classifier, train_classifier
    from triage.engines.datasets import load_labelled
    from triage.engines.embedder import CachingEmbedder, SentenceTransformerEmbedder
    from triage.engines.policy.loader import PolicyStore
    from triage.engines.retrieval import open_case_store

    started = time.perf_counter()
    settings = get_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    PolicyStore(settings.policy_file, taxonomy_file=settings.taxonomy_file)
    print(f"policy {settings.policy_file}: valid", file=sys.stderr)

    upgrade_database(settings.resolved_database_url)
    print("database: schema up to date", file=sys.stderr)

    # Training embeds every history text (and its noisy copy) more than once: the cache saves the repeats.
    embedder = CachingEmbedder(
        SentenceTransformerEmbedder(settings.embedding_model, batch_size=settings.embedding_batch_size),
        size=50_000,
    )
    model_dir = settings.resolved_model_dir
    trained = False
    if (model_dir / "metadata.json").is_file():
        try:
            load_classifier(model_dir, embedder)
        except ArtifactError as exc:
            raise ArtifactError(
                f"the model at {model_dir} is unusable ({exc.detail}); remove that folder to let bootstrap "
                "train the default model again, or point TRIAGE_MODEL_DIR at an artifact made by `triage train`"
            ) from exc
        print(f"model: {model_dir} exists and loads, kept", file=sys.stderr)
    else:
        print(f"model: training the default classifier on {settings.history_file}", file=sys.stderr)
        rows = load_labelled(settings.history_file)
        train_classifier(rows, embedder, model_dir, progress=sys.stderr.isatty())
        trained = True

    store = open_case_store(settings, embedding_model_id=embedder.model_id, dimension=embedder.dimension)
    try:
        indexed = bootstrap_history(settings, embedder, store)
        print(f"history: {store.count()} cases in the collection ({indexed} indexed now)", file=sys.stderr)
    finally:
        store.close()

    keys = create_dev_keys(settings, create_session_factory(settings.resolved_database_url))
    if keys:
        print("development API keys (shown once; store them now):")
        for role, key in keys.items():
            print(f"  {role:<11} {key}")
    seconds = time.perf_counter() - started
    print(
        f"bootstrap done in {seconds:.1f}s: model {'trained' if trained else 'kept'}, {indexed} cases indexed, "
        f"{len(keys)} keys created",
        file=sys.stderr,
    )
    return 0
