"""``triage index``, ``triage eval retrieve`` and the history step of ``triage bootstrap``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from triage.config import Settings, get_settings
from triage.core.errors import InvalidInput, TriageError

if TYPE_CHECKING:
    from triage.engines.datasets import LabelledText
    from triage.engines.embedder import Embedder
    from triage.engines.retrieval import CaseStore, HistoricalCase

log = logging.getLogger(__name__)
QUERY_BATCH = 256


def _fail(exc: TriageError) -> int:
    print(f"error: {exc.detail}", file=sys.stderr)
    return 2


def _embedder(settings: Settings) -> Embedder:
    from triage.engines.embedder import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(settings.embedding_model, batch_size=settings.embedding_batch_size)


def _cases(rows: list[LabelledText]) -> list[HistoricalCase]:
    from triage.engines.retrieval import HistoricalCase

    return [HistoricalCase.from_labelled(row, index) for index, row in enumerate(rows)]


def run_index(args: argparse.Namespace) -> int:
    """Upsert the cases of ``args.data`` into the configured history collection (resumable)."""
    from triage.engines.datasets import load_labelled
    from triage.engines.retrieval import index_cases, learn_and_index, open_case_store

    try:
        if args.batch_size < 1:
            raise InvalidInput("--batch-size must be at least 1")
        settings = get_settings()
        cases = _cases(load_labelled(args.data, text_col=args.text_col, label_col=args.label_col))
        embedder = _embedder(settings)
        store = open_case_store(settings, embedding_model_id=embedder.model_id, dimension=embedder.dimension)
        try:
            # an empty collection learns its metric from these cases' labels; a filled one keeps its own
            fill = learn_and_index if store.count() == 0 else index_cases
            summary = fill(store, embedder, cases, batch_size=args.batch_size)
            total = store.count()
            mode = store.health().mode
        finally:
            store.close()
    except TriageError as exc:
        return _fail(exc)
    print(
        f"indexed {summary.count} cases ({summary.skipped} already present) from {args.data} in "
        f"{summary.seconds:.1f}s; the {mode} collection holds {total}"
    )
    return 0


def bootstrap_history(settings: Settings, embedder: Embedder, store: CaseStore) -> int:
    """Index ``settings.history_file`` when the collection is empty; returns how many cases were indexed.

    In the collection's current space, never a newly learnt one: a first run then needs no fine-tuning pass
    (``triage index`` on an empty collection, or ``triage eval retrieve``, learns a space from the history).
    """
    from triage.engines.datasets import load_labelled
    from triage.engines.retrieval import index_cases

    if store.count() > 0:
        return 0
    if not settings.history_file.is_file():
        log.warning("no shipped history at %s: the case collection stays empty", settings.history_file)
        return 0
    cases = _cases(load_labelled(settings.history_file))
    return index_cases(store, embedder, cases).count


def _percentile(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values), q)) if values else 0.0


def evaluate_retrieval(
    store: CaseStore, embedder: Embedder, queries: list[LabelledText], *, k: int, progress: bool
) -> dict[str, Any]:
    """Query ``store`` with every item: precision@k, hit rate@k, MRR, search latency (not embedding)."""
    import numpy as np
    from tqdm import tqdm

    from triage.engines.retrieval import vectors_for

    precision = hits = reciprocal = 0.0
    latencies: list[float] = []
    with tqdm(total=len(queries), unit="query", desc="querying", disable=not progress) as bar:
        for start in range(0, len(queries), QUERY_BATCH):
            batch = queries[start : start + QUERY_BATCH]
            vectors = vectors_for(store, embedder, [row.text for row in batch])
            for row, vector in zip(batch, np.asarray(vectors), strict=True):
                started = time.perf_counter()
                neighbours = store.search(vector, k=k)
                latencies.append((time.perf_counter() - started) * 1000.0)
                same = [n.label == row.label for n in neighbours[:k]]
                precision += sum(same) / k
                if any(same):
                    hits += 1
                    reciprocal += 1.0 / (same.index(True) + 1)
                bar.update(1)
    n = len(queries)
    return {
        "n": n,
        "k": k,
        "precision_at_k": precision / n,
        "hit_rate_at_k": hits / n,
        "mrr": reciprocal / n,
        "latency_ms": {
            "p50": _percentile(latencies, 50),
            "p99": _percentile(latencies, 99),
            "mean": sum(latencies) / n,
        },
    }


def run_eval_retrieve(args: argparse.Namespace) -> int:
    """Build a throw-away collection from ``--history``, query it with ``--data``, report quality."""
    from triage.engines.datasets import load_labelled
    from triage.engines.retrieval import learn_and_index, open_case_store

    progress = sys.stderr.isatty()
    started = time.perf_counter()
    try:
        if args.k < 1:
            raise InvalidInput("--k must be at least 1")
        settings = get_settings()
        history = _cases(load_labelled(args.history, text_col=args.text_col, label_col=args.label_col))
        queries = load_labelled(args.data, text_col=args.text_col, label_col=args.label_col)
        embedder = _embedder(settings)
        with tempfile.TemporaryDirectory(prefix="triage-eval-") as tmp:
            # a server gets a uniquely named collection, dropped at the end; embedded mode a temporary folder
            on_server = bool(settings.qdrant.url)
            store = open_case_store(
                settings,
                embedding_model_id=embedder.model_id,
                dimension=embedder.dimension,
                collection=f"triage_eval_{uuid.uuid4().hex[:12]}" if on_server else "eval",
                path=None if on_server else Path(tmp),
            )
            try:
                mode = store.health().mode
                # the fresh collection learns its metric from the history's labels, as bootstrap does
                learn_and_index(store, embedder, history, progress=progress)
                result = evaluate_retrieval(store, embedder, queries, k=args.k, progress=progress)
                space = store.model_id
            finally:
                if on_server:
                    store.drop()  # the collection and its learnt space's files under TRIAGE_HOME
                store.close()
    except TriageError as exc:
        return _fail(exc)
    result |= {
        "history": len(history),
        "store": mode,
        "embedding_model": embedder.model_id,
        "vector_space": space,
    }
    text = json.dumps(result, indent=2)
    seconds = time.perf_counter() - started
    summary = (
        f"eval retrieve: n={result['n']} k={args.k} precision@k={result['precision_at_k']:.3f} "
        f"hit_rate@k={result['hit_rate_at_k']:.3f} mrr={result['mrr']:.3f} "
        f"p50={result['latency_ms']['p50']:.1f}ms p99={result['latency_ms']['p99']:.1f}ms in {seconds:.0f}s"
    )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n", encoding="utf-8")
        print(summary)
    else:
        print(text)
        print(summary, file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``index`` to the ``triage`` parser (``triage eval retrieve`` is the evaluation harness's)."""
    index = subparsers.add_parser("index", help="upsert historical cases into the history collection")
    index.add_argument("--data", type=Path, required=True)
    index.add_argument("--batch-size", type=int, default=256)
    add_column_options(index)
    index.set_defaults(target="triage.commands.retrieval:run_index")


def add_column_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--text-col", default="text", help="text column of a plain CSV/JSONL file")
    parser.add_argument("--label-col", default="label", help="label column of a plain CSV/JSONL file")
