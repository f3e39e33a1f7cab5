"""Similar-case search at scale in the embedded store (Qdrant Edge): ``python -m eval.bench_search``.

The collection is grown from a bootstrapped home's real case vectors (the shipped history, as indexed): each
synthetic case is a mix of two real ones plus noise, so the points keep the clustered shape of real embeddings
(random vectors in 384 dimensions have no neighbours worth the name, and no index finds them). The queries are
the real vectors themselves, perturbed. Printed: build and HNSW indexing time, p50/p99 of HNSW search (the
service's setting, ``TRIAGE_EDGE_HNSW_EF``), of exact search and of a label-filtered search, and HNSW
recall@5 against exact search. The built shard is kept under ``var/bench/`` and reused by later runs (indexing
100,000 points takes minutes on two cores; searching it is what is measured).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "var" / "bench"
K = 5
QUERIES = 300
NOISE = 0.35
SEED = 7
LABELS = 9


def real_vectors(home: Path) -> np.ndarray:
    """The vectors of the home's embedded history collection, read back from its shard."""
    import qdrant_edge as edge

    shard = edge.EdgeShard.load(str(home / "edge" / "case_history" / "shard"))
    try:
        rows: list[list[float]] = []
        offset: Any = None
        while True:
            records, offset = shard.scroll(edge.ScrollRequest(offset=offset, limit=1000, with_vector=True))
            rows += [record.vector for record in records]  # type: ignore[misc]
            if offset is None:
                break
    finally:
        shard.close()
    return np.asarray(rows, dtype=np.float32)


def synthetic(base: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    first, second = rng.integers(0, len(base), n), rng.integers(0, len(base), n)
    weight = rng.uniform(0.6, 1.0, (n, 1)).astype(np.float32)
    noise = rng.standard_normal((n, base.shape[1]), dtype=np.float32) * NOISE / np.sqrt(base.shape[1])
    vectors = weight * base[first] + (1 - weight) * base[second] + noise
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def built_store(base: np.ndarray, n: int) -> tuple[Any, dict[str, float]]:
    """The Edge store of ``n`` synthetic cases, from the cache or built now (with its build times)."""
    import hashlib

    from triage.config import Settings
    from triage.engines.retrieval.edge_store import EdgeCaseStore

    settings = Settings()
    digest = hashlib.sha256(base.tobytes()).hexdigest()[:12]
    folder = CACHE / f"edge-{n}-{digest}-{NOISE}"
    timings: dict[str, float] = {}
    fresh = not (folder / "triage.json").is_file()
    if fresh:
        shutil.rmtree(folder, ignore_errors=True)
    store = EdgeCaseStore(
        folder,
        model_id="bench",
        dimension=base.shape[1],
        exact_below=settings.edge_exact_below,
        hnsw_ef=settings.edge_hnsw_ef,
    )
    if fresh or store.count() != n:
        rng = np.random.default_rng(SEED)
        started = time.perf_counter()
        for start in range(0, n, 2000):
            rows = min(2000, n - start)
            payloads = [
                {"case_id": f"b{i}", "label": f"label_{i % LABELS}"} for i in range(start, start + rows)
            ]
            store.upsert_payloads(payloads, synthetic(base, rows, rng))
        timings["upsert_s"] = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        store.optimize()
        timings["index_s"] = round(time.perf_counter() - started, 1)
    return store, timings


def timed(search: Any, probes: np.ndarray) -> tuple[list[set[str]], dict[str, float]]:
    found, samples = [], []
    for probe in probes:
        started = time.perf_counter()
        hits = search(probe)
        samples.append((time.perf_counter() - started) * 1000)
        found.append({hit.case_id for hit in hits})
    p50, p99 = np.percentile(np.asarray(samples), [50, 99])
    return found, {"p50_ms": round(float(p50), 2), "p99_ms": round(float(p99), 2)}


def bench_search(home: Path, n: int) -> dict[str, Any]:
    from triage.engines.retrieval import CaseFilters

    base = real_vectors(home)
    store, timings = built_store(base, n)
    try:
        rng = np.random.default_rng(SEED + 1)
        probes = base[rng.integers(0, len(base), QUERIES)] + rng.normal(0, 0.02, (QUERIES, base.shape[1]))
        probes = (probes / np.linalg.norm(probes, axis=1, keepdims=True)).astype(np.float32)
        store.search(probes[0], k=K)  # warm-up: pages the index in
        hnsw, hnsw_t = timed(lambda p: store.search(p, k=K), probes)
        exact, exact_t = timed(lambda p: store.exact_search(p, k=K), probes)
        _, filtered_t = timed(lambda p: store.search(p, k=K, filters=CaseFilters(label="label_3")), probes)
        indexed = store.indexed()
    finally:
        store.close()
    recall = float(np.mean([len(h & e) / K for h, e in zip(hnsw, exact, strict=True)]))
    result = {
        "points": n,
        "indexed": indexed,
        **timings,
        "hnsw": hnsw_t,
        "exact": exact_t,
        "filtered": filtered_t,
        "recall_at_5": round(recall, 4),
    }
    print(
        f"search at {n} cases (Qdrant Edge, {indexed} in HNSW{', built now: ' + json.dumps(timings) if timings else ''}): "
        f"HNSW p50 {hnsw_t['p50_ms']} ms p99 {hnsw_t['p99_ms']} ms; exact p50 {exact_t['p50_ms']} ms; "
        f"filtered p50 {filtered_t['p50_ms']} ms; recall@5 vs exact {recall:.3f}",
        flush=True,
    )
    print(
        f"search    {'ok  ' if hnsw_t['p50_ms'] < 5 else 'MISS'} p50 < 5 ms; "
        f"{'ok  ' if recall >= 0.98 else 'MISS'} recall@5 >= 0.98"
    )
    return result


def main(argv: Sequence[str] | None = None) -> int:
    from eval.bench_triage import bootstrapped_home

    parser = argparse.ArgumentParser(prog="python -m eval.bench_search", description=__doc__)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--home", type=Path, default=None, help="a bootstrapped TRIAGE_HOME to copy")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if not 1_000 <= args.points <= 1_000_000:
        parser.error("points must be within 1,000..1,000,000")
    home = bootstrapped_home(args.home)
    try:
        result = bench_search(home, args.points)
    finally:
        shutil.rmtree(home.parent, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
