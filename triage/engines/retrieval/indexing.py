"""Embedding historical cases and upserting them into the case store in batches."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TYPE_CHECKING

from tqdm import tqdm

from triage.engines.retrieval.models import CaseStore, HistoricalCase, IndexSummary

if TYPE_CHECKING:
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
