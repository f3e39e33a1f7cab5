"""The ``retrieve`` suite: similar-case search quality and latency, and the resolution the neighbours vote for.

The contract figures (``precision_at_k``: mean share of the k neighbours with the query's label,
``hit_rate_at_k``, ``mrr``, ``latency_ms``) are computed as ``triage eval retrieve`` always did. For queries
that record how they were resolved (the shipped history format), the vote of ``predict_resolution`` under the
policy's ``retrieval`` rules is compared with the recorded action: how often it is shown (enough support and
agreement), and how often it is right when shown.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from triage.engines.retrieval import Neighbour, predict_resolution, vectors_for
from triage.evaluation.measures import distribution

if TYPE_CHECKING:
    from triage.engines.datasets import LabelledText
    from triage.engines.embedder import Embedder
    from triage.engines.policy.models import Policy
    from triage.engines.retrieval import CaseStore

QUERY_BATCH = 256


def _percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else 0.0


def search_all(
    store: CaseStore, embedder: Embedder, queries: Sequence[LabelledText], k: int
) -> tuple[list[list[Neighbour]], list[float], float]:
    """The k neighbours of every query, each search's latency (ms, not embedding), and the embedding seconds."""
    found: list[list[Neighbour]] = []
    latencies: list[float] = []
    embed_seconds = 0.0
    for start in range(0, len(queries), QUERY_BATCH):
        batch = queries[start : start + QUERY_BATCH]
        started = time.perf_counter()
        vectors = np.asarray(vectors_for(store, embedder, [row.text for row in batch]))
        embed_seconds += time.perf_counter() - started
        for vector in vectors:
            started = time.perf_counter()
            found.append(store.search(vector, k=k))
            latencies.append((time.perf_counter() - started) * 1000.0)
    return found, latencies, embed_seconds


def _reason(reason: str | None) -> str:
    if reason is None:
        return "shown"
    for key in ("close enough", "disagree", "too few", "no similar case has"):
        if key in reason:
            return {"no similar case has": "no recorded resolution"}.get(key, key)
    return "other"


def resolution_figures(
    queries: Sequence[LabelledText], found: Sequence[Sequence[Neighbour]], policy: Policy
) -> dict[str, Any]:
    rules = policy.retrieval
    n = shown = right = 0
    withheld: Counter[str] = Counter()
    support, agreement = [], []
    for row, neighbours in zip(queries, found, strict=True):
        recorded = row.record.get("resolution_action")
        if not recorded:
            continue
        n += 1
        vote = predict_resolution(
            neighbours,
            min_score=rules.min_score,
            min_agreement=rules.min_agreement,
            min_support=rules.min_support,
        )
        withheld[_reason(vote.reason)] += 1
        if vote.action is not None:
            shown += 1
            right += vote.action == recorded
            support.append(float(vote.support))
            agreement.append(vote.confidence)
    return {
        "n": n,
        "shown": shown,
        "shown_share": shown / n if n else None,
        "accuracy_when_shown": right / shown if shown else None,
        "accuracy_overall": right / n if n else None,
        "why": dict(sorted(withheld.items())),
        "support_when_shown": distribution(support),
        "agreement_when_shown": distribution(agreement),
        "rules": rules.model_dump(),
    }


def retrieve_suite(
    store: CaseStore, embedder: Embedder, queries: Sequence[LabelledText], policy: Policy, *, k: int
) -> dict[str, Any]:
    found, latencies, embed_seconds = search_all(store, embedder, queries, k)
    precision = hits = reciprocal = 0.0
    for row, neighbours in zip(queries, found, strict=True):
        same = [n.label == row.label for n in neighbours[:k]]
        precision += sum(same) / k
        if any(same):
            hits += 1
            reciprocal += 1.0 / (same.index(True) + 1)
    n = len(queries)
    return {
        "n": n,
        "k": k,
        "precision_at_k": precision / n if n else 0.0,
        "hit_rate_at_k": hits / n if n else 0.0,
        "mrr": reciprocal / n if n else 0.0,
        "latency_ms": {
            "p50": _percentile(latencies, 50),
            "p99": _percentile(latencies, 99),
            "mean": sum(latencies) / n if n else 0.0,
        },
        "embed_ms_per_query": 1000.0 * embed_seconds / n if n else 0.0,
        "resolution": resolution_figures(queries, found, policy),
        "vector_space": store.model_id,
        "store": store.health().mode,
    }
