"""Query latency of the case stores at several sizes: ``python -m eval.bench_retrieval``.

Random unit vectors (dimension 384, MiniLM's) stand in for embeddings. The embedded store (Qdrant Edge) is
built in a temporary folder, its index built (HNSW past ``TRIAGE_EDGE_EXACT_BELOW`` points), and queried
``--queries`` times with ``k`` neighbours, unfiltered and with a label filter; the table gives p50/p99 in ms.
Random vectors in 384 dimensions have no real neighbours, which makes HNSW slow to build and its recall poor:
``eval/bench_search.py`` measures search on vectors shaped like real case embeddings, with recall.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from triage.config import Settings
from triage.engines.retrieval import CaseFilters, CaseStore, HistoricalCase, open_case_store

DIMENSION = 384
LABELS = 9
MAX_POINTS = 1_000_000
BUILD_BATCH = 2_000
MIN_QUERIES = 5


def _unit(rng: np.random.Generator, rows: int) -> np.ndarray:
    vectors = rng.standard_normal((rows, DIMENSION), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def _cases(start: int, rows: int) -> list[HistoricalCase]:
    return [
        HistoricalCase(
            case_id=f"bench-{i}",
            label=f"label_{i % LABELS}",
            text=f"case {i}",
            summary=f"case {i}",
            resolution="",
            resolution_action=f"action_{i % 5}",
            outcome=None,
            hours_to_resolve=None,
            customer_id=f"C{i % 500}",
            site=f"S{i % 20}",
            source_system="erp",
            resolved_at=None,
        )
        for i in range(start, start + rows)
    ]


def _percentiles(samples: list[float]) -> tuple[float, float]:
    p50, p99 = np.percentile(np.asarray(samples) * 1000.0, [50, 99])
    return float(p50), float(p99)


def _timed(search: Callable[[np.ndarray, int], object], probes: np.ndarray, budget_s: float) -> list[float]:
    """Seconds per search, stopping after ``budget_s`` once at least ``MIN_QUERIES`` are timed."""
    samples: list[float] = []
    deadline = time.perf_counter() + budget_s
    for i, probe in enumerate(probes):
        if len(samples) >= MIN_QUERIES and time.perf_counter() > deadline:
            break
        started = time.perf_counter()
        search(probe, i)
        samples.append(time.perf_counter() - started)
    return samples


def _open(folder: Path) -> CaseStore:
    settings = Settings(home=folder, qdrant_url=None)
    return open_case_store(settings, embedding_model_id="bench-random", dimension=DIMENSION, path=folder)


def bench_store(
    size: int, queries: int, k: int, *, budget_s: float = 120.0, seed: int = 7
) -> dict[str, float]:
    """Build a store of ``size`` random points and time up to ``queries`` searches of each kind.

    Querying stops early once ``budget_s`` is spent (after at least 5 of each), so a slow store cannot hold
    the benchmark for an hour; ``queries`` in the result says how many were timed.
    """
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory(prefix="triage-bench-") as tmp:
        store = _open(Path(tmp))
        try:
            started = time.perf_counter()
            for start in range(0, size, BUILD_BATCH):
                rows = min(BUILD_BATCH, size - start)
                store.upsert(_cases(start, rows), _unit(rng, rows))
            store.optimize()
            build_s = time.perf_counter() - started
            probes = _unit(rng, queries)
            store.search(probes[0], k=k)  # warm-up (first query pays for lazy setup)
            plain = _timed(lambda probe, _: store.search(probe, k=k), probes, budget_s / 2)
            filtered = _timed(
                lambda probe, i: store.search(probe, k=k, filters=CaseFilters(label=f"label_{i % LABELS}")),
                probes,
                budget_s / 2,
            )
            p50, p99 = _percentiles(plain)
            f50, f99 = _percentiles(filtered)
            return {
                "build_s": build_s,
                "queries": len(plain),
                "p50": p50,
                "p99": p99,
                "filtered_p50": f50,
                "filtered_p99": f99,
            }
        finally:
            store.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench_retrieval", description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--budget-s", type=float, default=120.0, help="query time budget per store and size")
    args = parser.parse_args(argv)
    if any(not 1 <= size <= MAX_POINTS for size in args.sizes) or not 1 <= args.queries <= 10_000:
        parser.error(f"sizes must be within 1..{MAX_POINTS:,} and queries within 1..10,000")
    columns = ("store", "points", "build s", "queries", "p50 ms", "p99 ms", "filt p50", "filt p99")
    print(f"{columns[0]:<8} " + " ".join(f"{c:>9}" for c in columns[1:]))
    for size in args.sizes:
        for backend in ("edge",):
            r = bench_store(size, args.queries, args.k, budget_s=args.budget_s)
            print(
                f"{backend:<8} {size:>9} {r['build_s']:>9.1f} {int(r['queries']):>9} {r['p50']:>9.2f} "
                f"{r['p99']:>9.2f} {r['filtered_p50']:>9.2f} {r['filtered_p99']:>9.2f}",
                flush=True,
            )
    print(
        f"{len(args.sizes)} runs, up to {args.queries} queries each, k={args.k}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
