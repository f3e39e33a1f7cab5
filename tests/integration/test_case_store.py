"""The case store against real embedded Qdrant (Qdrant Edge) with the real MiniLM embedder."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from triage.config import Settings
from triage.core.errors import ConfigurationError, UpstreamUnavailable
from triage.engines.datasets import load_labelled
from triage.engines.embedder import SentenceTransformerEmbedder
from triage.engines.retrieval import (
    CaseFilters,
    CaseStore,
    HistoricalCase,
    index_cases,
    open_case_store,
)

# "matrix" is the old name of an embedded store: it now opens the same Edge store (its learnt-space files keep
# their own names).
BACKENDS = ["qdrant", "matrix"]


def history_line(
    i: int, description: str, label: str, action: str, *, customer: str, site: str
) -> dict[str, Any]:
    return {
        "event": {
            "event_id": f"evt-{i:04d}",
            "source_system": "wms",
            "occurred_at": "2026-03-01T08:00:00Z",
            "order": {
                "order_id": f"SO-{i}",
                "customer_id": customer,
                "site": site,
                "order_value": "1200.00",
                "order_date": "2026-03-01",
                "lines": [{"line_id": "1", "sku": "SKU-1", "quantity_ordered": "5"}],
            },
            "description": description,
        },
        "label": label,
        "resolution_action": action,
        "resolution": f"{action} done for case {i}",
        "outcome": "resolved",
        "hours_to_resolve": 4 + i,
        "resolved_at": "2026-03-02T10:00:00Z",
    }


HISTORY = [
    (
        "Cycle count adjustment left SKU short, allocation failed at DC",
        "inventory_shortage",
        "transfer_stock",
    ),
    ("Stock on hand below ordered quantity after cycle count", "inventory_shortage", "transfer_stock"),
    ("Customer exceeded credit limit, order placed on credit hold", "credit_hold", "release_credit"),
    ("Credit check failed: outstanding invoices past due", "credit_hold", "release_credit"),
    ("Carrier missed pickup window, shipment delayed two days", "shipment_delay", "rebook_carrier"),
    ("Invoice price differs from contract price on line 1", "pricing_discrepancy", "correct_price"),
]


@pytest.fixture(scope="module")
def embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder()


@pytest.fixture(scope="module")
def history_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("history") / "history.jsonl"
    lines = [
        history_line(i, text, label, action, customer=f"C{i % 2}", site=f"DC{i % 3}")
        for i, (text, label, action) in enumerate(HISTORY)
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def cases(history_file: Path) -> list[HistoricalCase]:
    return [HistoricalCase.from_labelled(row, i) for i, row in enumerate(load_labelled(history_file))]


def settings_for(home: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"qdrant_url": None, "qdrant_api_key": None} | overrides
    return Settings(home=home, **values)


@pytest.fixture(params=BACKENDS)
def store(
    request: pytest.FixtureRequest, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> Iterator[CaseStore]:
    opened = open_case_store(
        settings_for(tmp_path),
        embedding_model_id=embedder.model_id,
        dimension=embedder.dimension,
        backend=request.param,
    )
    yield opened
    opened.close()


def test_history_line_becomes_a_case_with_its_payload(cases: list[HistoricalCase]) -> None:
    first = cases[0]
    assert first.case_id == "evt-0000"
    assert first.text.startswith("WMS: ")
    assert (first.customer_id, first.site, first.source_system) == ("C0", "DC0", "wms")
    assert first.resolution_action == "transfer_stock" and first.hours_to_resolve == 4.0
    assert first.resolved_at is not None and first.resolved_at.tzinfo is not None


def test_plain_rows_get_stable_distinct_ids(tmp_path: Path) -> None:
    path = tmp_path / "plain.csv"
    path.write_text("text,label\nsame text,a\nsame text,a\n", encoding="utf-8")
    once = [HistoricalCase.from_labelled(row, i) for i, row in enumerate(load_labelled(path))]
    twice = [HistoricalCase.from_labelled(row, i) for i, row in enumerate(load_labelled(path))]
    assert [c.case_id for c in once] == [c.case_id for c in twice]
    assert once[0].case_id != once[1].case_id
    assert once[0].resolution_action is None and once[0].customer_id is None


def test_reindex_is_idempotent_and_resumable(
    store: CaseStore, embedder: SentenceTransformerEmbedder, cases: list[HistoricalCase]
) -> None:
    first = index_cases(store, embedder, cases[:3], batch_size=2, progress=False)
    assert (first.count, first.skipped) == (3, 0)
    resumed = index_cases(store, embedder, cases, batch_size=2, progress=False)
    assert (resumed.count, resumed.skipped) == (3, 3)
    forced = index_cases(store, embedder, cases, progress=False, resume=False)
    assert forced.count == len(cases)
    assert store.count() == len(cases)


def test_nearest_case_and_filters(
    store: CaseStore, embedder: SentenceTransformerEmbedder, cases: list[HistoricalCase]
) -> None:
    index_cases(store, embedder, cases, progress=False)
    query = embedder.embed(["WMS: cycle count shortage, cannot allocate the order line"])[0]
    hits = store.search(query, k=3)
    assert hits[0].label == "inventory_shortage"
    assert hits[0].resolution_action == "transfer_stock" and hits[0].resolution
    assert hits[0].score >= hits[1].score >= hits[2].score
    assert 0.0 < hits[0].score <= 1.0 + 1e-5

    by_customer = store.search(query, k=10, filters=CaseFilters(customer_id="C1"))
    assert {n.case_id for n in by_customer} == {c.case_id for c in cases if c.customer_id == "C1"}
    by_site_and_label = store.search(query, k=10, filters=CaseFilters(site="DC0", label="inventory_shortage"))
    assert [n.case_id for n in by_site_and_label] == ["evt-0000"]
    assert store.search(query, k=5, filters=CaseFilters(customer_id="nobody")) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_drop_deletes_the_collection_and_its_learnt_space(tmp_path: Path, backend: str) -> None:
    from triage.engines.retrieval.metric import Projection

    settings = settings_for(tmp_path)
    store = open_case_store(settings, embedding_model_id="model-a", dimension=8, backend=backend)
    store.adopt_space(Projection(np.eye(8, dtype=np.float32) * 2))
    rows = [
        HistoricalCase.from_labelled(row, i) for i, row in enumerate(load_labelled_rows(tmp_path, ["a", "b"]))
    ]
    store.upsert(rows, np.eye(8, dtype=np.float32)[:2])
    store.drop()
    store.close()
    assert not list(tmp_path.glob("projections/*"))
    reopened = open_case_store(settings, embedding_model_id="model-b", dimension=8, backend=backend)
    try:  # nothing of the dropped collection is left to refuse another model
        assert reopened.count() == 0 and reopened.model_id == "model-b"
    finally:
        reopened.close()


def test_frozen_space_vectors_are_the_embedders(
    store: CaseStore, embedder: SentenceTransformerEmbedder, cases: list[HistoricalCase]
) -> None:
    from triage.engines.retrieval import vectors_for

    texts = [case.text for case in cases[:2]]
    assert store.model_id == embedder.model_id
    assert np.array_equal(vectors_for(store, embedder, texts), embedder.embed(texts))
    store.prepare(embedder)  # nothing to build in the frozen space
    assert store.count() == 0


def test_model_mismatch_is_refused(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> None:
    for backend in BACKENDS:
        settings = settings_for(tmp_path / backend)
        open_case_store(settings, embedding_model_id="model-a", dimension=8, backend=backend).close()
        with pytest.raises(ConfigurationError, match="model-a") as refused:
            open_case_store(settings, embedding_model_id="model-b", dimension=8, backend=backend)
        assert "Re-index" in refused.value.detail
        # the refusal released the folder: the right model still opens it
        open_case_store(settings, embedding_model_id="model-a", dimension=8, backend=backend).close()


def test_dimension_mismatch_is_refused(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    open_case_store(settings, embedding_model_id="model-a", dimension=8).close()
    with pytest.raises(ConfigurationError, match="8-d"):
        open_case_store(settings, embedding_model_id="model-a", dimension=16)


@pytest.mark.parametrize("backend", BACKENDS)
def test_second_process_on_one_folder_is_refused(tmp_path: Path, backend: str) -> None:
    settings = settings_for(tmp_path)
    held = open_case_store(settings, embedding_model_id="m", dimension=4, backend=backend)
    try:
        script = textwrap.dedent(
            f"""
            import sys
            from pathlib import Path
            from triage.config import Settings
            from triage.core.errors import ConfigurationError
            from triage.engines.retrieval import open_case_store
            try:
                open_case_store(Settings(home=Path({str(tmp_path)!r}), qdrant_url=None),
                                embedding_model_id="m", dimension=4, backend={backend!r})
            except ConfigurationError as exc:
                print(exc.detail)
                sys.exit(3)
            """
        )
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    finally:
        held.close()
    assert done.returncode == 3, done.stderr
    assert "in use" in done.stdout and "Only one process" in done.stdout


@pytest.mark.parametrize("backend", BACKENDS)
def test_closed_store_raises_upstream_unavailable_quickly(tmp_path: Path, backend: str) -> None:
    store = open_case_store(settings_for(tmp_path), embedding_model_id="m", dimension=4, backend=backend)
    store.close()
    started = time.perf_counter()
    with pytest.raises(UpstreamUnavailable, match="closed"):
        store.search(np.full(4, 0.5, dtype=np.float32), k=3)
    assert time.perf_counter() - started < 0.5
    assert store.health().ok is False


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_dead_server_gives_upstream_unavailable_within_the_timeout(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, qdrant_url=f"http://127.0.0.1:{_dead_port()}", qdrant_timeout_s=1.0)
    started = time.perf_counter()
    store = open_case_store(settings, embedding_model_id="m", dimension=4)
    try:
        with pytest.raises(UpstreamUnavailable, match="server"):
            store.search(np.full(4, 0.5, dtype=np.float32), k=3)
        health = store.health()
    finally:
        store.close()
    assert time.perf_counter() - started < 3 * settings.qdrant_timeout_s
    assert health.ok is False and health.mode == "server"


def test_embedded_store_survives_reopen_and_reports_its_engine(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, cases: list[HistoricalCase]
) -> None:
    settings = settings_for(tmp_path)

    def open_store() -> CaseStore:
        return open_case_store(settings, embedding_model_id=embedder.model_id, dimension=embedder.dimension)

    store = open_store()
    index_cases(store, embedder, cases, progress=False)
    index_cases(store, embedder, cases[:2], progress=False, resume=False)  # overwrites, never duplicates
    store.close()
    store = open_store()
    try:
        assert store.count() == len(cases)
        query = embedder.embed([cases[2].text])[0]
        assert store.search(query, k=1)[0].case_id == cases[2].case_id
        health = store.health()
    finally:
        store.close()
    assert health.ok and health.mode == "local" and "Qdrant Edge" in health.detail


def test_hnsw_above_the_threshold_finds_what_exact_search_finds(tmp_path: Path) -> None:
    from triage.engines.retrieval.edge_store import EdgeCaseStore

    rng = np.random.default_rng(3)
    centres = rng.normal(size=(20, 16))
    vectors = np.stack([centres[i % 20] + 0.3 * rng.normal(size=16) for i in range(600)]).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    rows = [
        HistoricalCase.from_labelled(row, i)
        for i, row in enumerate(load_labelled_rows(tmp_path, [f"l{i % 20}" for i in range(600)]))
    ]
    store = EdgeCaseStore(tmp_path / "edge", model_id="m", dimension=16, exact_below=100, hnsw_ef=64)
    try:
        store.upsert(rows, vectors)
        assert store.indexed() == 0  # not built yet: every search is exact
        store.optimize()
        assert store.indexed() == 600
        probes = vectors[:50] + 0.1 * rng.normal(size=(50, 16)).astype(np.float32)
        found = [{n.case_id for n in store.search(p, k=5)} for p in probes]
        exact = [{n.case_id for n in store.exact_search(p, k=5)} for p in probes]
        by_label = store.search(probes[0], k=5, filters=CaseFilters(label="l7"))
    finally:
        store.close()
    recall = np.mean([len(f & e) / 5 for f, e in zip(found, exact, strict=True)])
    assert recall >= 0.95
    assert by_label and all(n.label == "l7" for n in by_label)


def test_a_local_mode_collection_moves_into_the_edge_store(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, cases: list[HistoricalCase]
) -> None:
    from qdrant_client import QdrantClient, models

    from triage.engines.retrieval import point_id

    settings = settings_for(tmp_path)
    client = QdrantClient(path=str(settings.qdrant.local_path))
    client.create_collection(
        settings.qdrant_collection,
        vectors_config=models.VectorParams(size=embedder.dimension, distance=models.Distance.COSINE),
        metadata={"embedding_model": embedder.model_id, "dimension": embedder.dimension, "schema": 1},
    )
    vectors = embedder.embed([case.text for case in cases])
    client.upsert(
        settings.qdrant_collection,
        points=[
            models.PointStruct(id=point_id(case.case_id), vector=row.tolist(), payload=case.payload())
            for case, row in zip(cases, vectors, strict=True)
        ],
    )
    client.close()
    store = open_case_store(settings, embedding_model_id=embedder.model_id, dimension=embedder.dimension)
    try:
        assert store.count() == len(cases)
        hit = store.search(vectors[4], k=1)[0]
    finally:
        store.close()
    assert hit.case_id == cases[4].case_id and hit.resolution == cases[4].resolution
    assert hit.score == pytest.approx(1.0, abs=1e-4)


def test_a_matrix_store_moves_into_the_edge_store_without_its_torn_tail(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    folder = tmp_path / "matrix" / settings.qdrant_collection
    folder.mkdir(parents=True)
    (folder / "meta.json").write_text(json.dumps({"embedding_model": "m", "dimension": 4, "schema": 1}))
    rows = [
        HistoricalCase.from_labelled(r, i) for i, r in enumerate(load_labelled_rows(tmp_path, ["a", "b"]))
    ]
    vectors = np.eye(4, dtype=np.float32)[[0, 1, 2]]  # the last row overwrites case 0
    payloads = [rows[0].payload(), rows[1].payload(), rows[0].payload() | {"resolution": "later"}]
    vectors.tofile(folder / "vectors.f32")
    (folder / "payloads.jsonl").write_text(
        "".join(json.dumps(p) + "\n" for p in payloads) + '{"case_id": "torn"', encoding="utf-8"
    )
    store = open_case_store(settings, embedding_model_id="m", dimension=4, backend="matrix")
    try:
        assert store.count() == 2
        hit = store.search(np.eye(4, dtype=np.float32)[2], k=1)[0]
    finally:
        store.close()
    assert (hit.case_id, hit.resolution) == (rows[0].case_id, "later")


def test_a_legacy_collection_of_another_model_is_refused(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    folder = tmp_path / "matrix" / settings.qdrant_collection
    folder.mkdir(parents=True)
    (folder / "meta.json").write_text(json.dumps({"embedding_model": "old", "dimension": 4, "schema": 1}))
    np.eye(4, dtype=np.float32)[:1].tofile(folder / "vectors.f32")
    (folder / "payloads.jsonl").write_text(json.dumps({"case_id": "x", "label": "a"}) + "\n")
    with pytest.raises(ConfigurationError, match="old"):
        open_case_store(settings, embedding_model_id="m", dimension=4, backend="matrix")


@pytest.mark.parametrize("backend", BACKENDS)
def test_learnt_projection_is_part_of_the_recorded_vector_space(tmp_path: Path, backend: str) -> None:
    from triage.engines.retrieval.metric import Projection, fit_projection
    from triage.engines.retrieval.space import VectorSpaceStore

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 8))
    labels = [f"l{i % 3}" for i in range(60)]
    vectors = np.stack([centres[i % 3] + 0.8 * rng.normal(size=8) for i in range(60)]).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    projection = fit_projection(vectors, labels)
    assert isinstance(projection, Projection) and projection.matrix.shape == (8, 8)
    assert fit_projection(vectors[:5], labels[:5]) is None  # too little to learn from

    settings = settings_for(tmp_path)
    rows = [
        HistoricalCase.from_labelled(row, i) for i, row in enumerate(load_labelled_rows(tmp_path, labels))
    ]
    store = open_case_store(settings, embedding_model_id="model-a", dimension=8, backend=backend)
    assert isinstance(store, VectorSpaceStore)
    store.adopt_space(projection)
    assert store.model_id == f"model-a+proj:{projection.digest}"
    store.upsert(rows, vectors)
    with pytest.raises(ConfigurationError):
        store.adopt_space(projection)  # a filled collection keeps its space
    top = store.search(vectors[0], k=3)
    assert top[0].case_id == rows[0].case_id and top[0].score == pytest.approx(1.0, abs=1e-4)
    store.close()

    reopened = open_case_store(settings, embedding_model_id="model-a", dimension=8, backend=backend)
    assert (
        reopened.model_id == store.model_id and reopened.search(vectors[0], k=1)[0].case_id == rows[0].case_id
    )
    reopened.close()
    next(tmp_path.glob("projections/*.npy")).unlink()  # the projection lost: the collection is refused
    with pytest.raises(ConfigurationError, match="projections/"):
        open_case_store(settings, embedding_model_id="model-a", dimension=8, backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_empty_collection_takes_the_space_of_its_files(tmp_path: Path, backend: str) -> None:
    """A crash between saving a learnt space and recording it, or its files deleted before any case was
    indexed, leaves no vectors to mix up: the next open adopts the files' space instead of refusing."""
    from triage.engines.retrieval.metric import Projection

    settings = settings_for(tmp_path)
    store = open_case_store(settings, embedding_model_id="model-a", dimension=8, backend=backend)
    projection = Projection(np.eye(8, dtype=np.float32) * 2)
    store.adopt_space(projection)
    assert store.model_id == f"model-a+proj:{projection.digest}"
    store.close()
    next(tmp_path.glob("projections/*.npy")).unlink()
    reopened = open_case_store(settings, embedding_model_id="model-a", dimension=8, backend=backend)
    try:
        assert reopened.model_id == "model-a" and reopened.count() == 0
    finally:
        reopened.close()


def load_labelled_rows(folder: Path, labels: list[str]) -> list[Any]:
    path = folder / "rows.csv"
    path.write_text("text,label\n" + "".join(f"case {i},{label}\n" for i, label in enumerate(labels)))
    return load_labelled(path)


@pytest.mark.parametrize("backend", BACKENDS)
def test_learnt_space_with_a_tuned_encoder_is_recorded_and_required(
    tmp_path: Path, backend: str, embedder: SentenceTransformerEmbedder
) -> None:
    from triage.engines.retrieval import learn_and_index, vectors_for
    from triage.engines.retrieval.space import VectorSpaceStore

    labels = [label for _, label, _ in HISTORY] * 4
    texts = [f"{text} (case {i})" for i, (text, _, _) in enumerate(HISTORY * 4)]
    rows = [
        HistoricalCase.from_labelled(row, i)
        for i, row in enumerate(load_labelled_texts(tmp_path, texts, labels))
    ]
    settings = settings_for(tmp_path)
    store = open_case_store(
        settings, embedding_model_id=embedder.model_id, dimension=embedder.dimension, backend=backend
    )
    assert isinstance(store, VectorSpaceStore)
    learn_and_index(store, embedder, rows, progress=False)
    assert store.model_id.startswith(f"{embedder.model_id}+tuned:") and "+proj:" not in store.model_id
    assert "learnt space tuned:" in store.health().detail
    query = vectors_for(store, embedder, [rows[3].text])
    assert not np.allclose(query, embedder.embed([rows[3].text]))  # the tuned encoder, not the base model
    assert store.search(query[0], k=1)[0].case_id == rows[3].case_id
    space = store.model_id
    store.close()

    reopened = open_case_store(
        settings, embedding_model_id=embedder.model_id, dimension=embedder.dimension, backend=backend
    )
    assert reopened.model_id == space
    assert (
        reopened.search(vectors_for(reopened, embedder, [rows[3].text])[0], k=1)[0].case_id == rows[3].case_id
    )
    reopened.close()
    next(tmp_path.glob("projections/*.encoder.safetensors")).unlink()  # the encoder lost: refused
    with pytest.raises(ConfigurationError, match="tuned:"):
        open_case_store(
            settings, embedding_model_id=embedder.model_id, dimension=embedder.dimension, backend=backend
        )


def load_labelled_texts(folder: Path, texts: list[str], labels: list[str]) -> list[Any]:
    import csv

    path = folder / "texts.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(zip(texts, labels, strict=True))
    return load_labelled(path)
