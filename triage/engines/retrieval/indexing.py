"""Embedding historical cases and upserting them into the case store in batches."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from triage.engines.retrieval.models import CaseStore, HistoricalCase, IndexSummary

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from triage.engines.embedder import Embedder


def _batches(cases: Iterable[HistoricalCase], size: int) -> Iterator[list[HistoricalCase]]:
    iterator = iter(cases)
    while batch := list(islice(iterator, size)):
        yield batch


def index_cases(
    store: CaseStore,
    embedder: Embedder,
    cases: Iterable[HistoricalCase],
    *,
    batch_size: int = 256,
    progress: bool = True,
    resume: bool = True,
) -> IndexSummary:
    """Embed and upsert ``cases`` batch by batch; ``count`` is how many were written.

    With ``resume`` the cases already in the store are skipped (not re-embedded), so an interrupted run picks
    up where it stopped; without it every case is embedded and overwritten. Point ids come from case ids, so
    either way nothing is duplicated. The progress bar shows only when ``progress`` and stderr is a terminal.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    total = len(cases) if isinstance(cases, list | tuple) else None
    started = time.perf_counter()
    written = skipped = 0
    with tqdm(
        total=total, unit="case", desc="indexing", disable=not (progress and sys.stderr.isatty())
    ) as bar:
        for batch in _batches(cases, batch_size):
            todo = batch
            if resume:
                present = store.existing([case.case_id for case in batch])
                todo = [case for case in batch if case.case_id not in present]
                skipped += len(batch) - len(todo)
            if todo:
                vectors = embedder.embed([case.text for case in todo])
                written += store.upsert(todo, vectors)
            bar.update(len(batch))
    return IndexSummary(count=written, seconds=time.perf_counter() - started, skipped=skipped)


def learn_and_index(
    store: CaseStore,
    embedder: Embedder,
    cases: Sequence[HistoricalCase],
    *,
    batch_size: int = 256,
    progress: bool = True,
) -> IndexSummary:
    """Index ``cases`` into an empty store in a metric learnt from their labels (``metric.fit_projection``).

    The store must offer ``adopt_projection`` (what ``open_case_store`` returns does) and be empty; otherwise,
    or when the cases are too few to learn from, this is plain ``index_cases``.
    """
    from triage.engines.retrieval.metric import fit_projection

    adopt = getattr(store, "adopt_projection", None)
    if not callable(adopt) or store.count() > 0 or getattr(store, "projection", None) is not None:
        return index_cases(store, embedder, cases, batch_size=batch_size, progress=progress)
    started = time.perf_counter()
    vectors: list[NDArray[np.float32]] = []
    with tqdm(
        total=len(cases), unit="case", desc="embedding", disable=not (progress and sys.stderr.isatty())
    ) as bar:
        for batch in _batches(cases, batch_size):
            vectors.append(embedder.embed([case.text for case in batch]))
            bar.update(len(batch))
    if not vectors:
        return IndexSummary(count=0, seconds=time.perf_counter() - started, skipped=0)
    matrix = np.concatenate(vectors)
    projection = fit_projection(matrix, [case.label for case in cases])
    if projection is not None:
        adopt(projection)
    written = 0
    for start in range(0, len(cases), batch_size):
        written += store.upsert(cases[start : start + batch_size], matrix[start : start + batch_size])
    return IndexSummary(count=written, seconds=time.perf_counter() - started, skipped=0)
