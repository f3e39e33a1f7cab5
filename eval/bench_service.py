"""The service against the model's own floor: ``python -m eval.bench_service`` (``make bench``).

For each encoder backend (``torch``, ``onnx-int8``) it starts ``triage serve`` on a copy of a bootstrapped home
(``./var``, or ``--home``) and waits for ``/ready`` (start-up time), then drives ``POST /v1/exceptions`` from
this process over loopback, closed-loop at each concurrency level (default 1, 8, 32) for a fixed number of
requests with the shipped test events, no LLM. Each request's text is made unique (a reference appended to the
description) so no level is served from the embedding cache. Per level: throughput, p50/p95/p99, errors, the
server's CPU time per request (what a machine shared with other work disturbs least), the load average, and
the mean time per stage from ``/metrics``; then the server's resident memory. With the server stopped, the same
model work is timed in this process: one encoder pass per text, every classifier member and the similar-case
search, one text at a time (batch 1) and 32 at a time (batch 32), in wall time and CPU time (the service's
CPU per request less the floor's CPU per text is the work that is not the model's); the ratios service /
floor are printed against the issue's targets. Last, similar-case search at ``--search-points`` cases in the embedded store
(Qdrant Edge): HNSW and exact p50/p99 and HNSW recall@5 against exact search.

Bounded: fixed request counts, per-request timeout, loopback only; a benchmark, never a test. JSON with
``--json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from eval.bench_triage import TEST_SET, bootstrapped_home, free_port

ROOT = Path(__file__).resolve().parents[1]
TRIAGE = Path(sys.executable).parent / "triage"
BACKENDS = ("torch", "onnx-int8")
BATCH = 32


def bench_events(n: int, tag: str) -> list[dict[str, Any]]:
    """``n`` shipped test events (cycled), each with its own id and a unique reference in its description."""
    with TEST_SET.open(encoding="utf-8") as handle:
        rows = [json.loads(line)["event"] for line in handle]
    out = []
    for i in range(n):
        event = json.loads(json.dumps(rows[i % len(rows)]))
        event["event_id"] = f"BENCH-{tag}-{i:05d}"
        event["description"] = f"{event['description']} Ref {tag}-{i}."
        out.append(event)
    return out


def texts_of(events: list[dict[str, Any]]) -> list[str]:
    from triage.core.events import ExceptionEvent, classification_text

    return [classification_text(ExceptionEvent.model_validate(event)) for event in events]


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    p50, p95, p99 = np.percentile(np.asarray(samples_ms), [50, 95, 99])
    return {"p50": round(float(p50), 1), "p95": round(float(p95), 1), "p99": round(float(p99), 1)}


# -- the server -------------------------------------------------------------------------------------------


def server_env(home: Path, backend: str, threads: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")}
    env |= {
        "TRIAGE_HOME": str(home),
        "TRIAGE_ENVIRONMENT": "test",
        "TRIAGE_ENCODER_BACKEND": backend,
        "TRIAGE_ENCODER_THREADS": str(threads),
        "TRIAGE_RATE_LIMIT_PER_MINUTE": "1000000",
        "TRIAGE_RATE_LIMIT_PER_ADDRESS_PER_MINUTE": "1000000",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    return env


def workflow_key(env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(TRIAGE), "keys", "create", "--role", "workflow", "--subject", "bench"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return next(word for word in done.stdout.split() if len(word) > 20)


class Server:
    """``triage serve`` in its own process on a free loopback port."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [str(TRIAGE), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def wait_ready(self, limit_s: float = 120) -> float:
        """Seconds from the process start to the first ``/ready`` 200."""
        deadline = self.started + limit_s
        with httpx.Client(timeout=2) as client:
            while time.perf_counter() < deadline:
                if self.process.poll() is not None:
                    sys.exit(f"the server exited: {self.process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
                try:
                    if client.get(f"{self.url}/ready").status_code == 200:
                        return time.perf_counter() - self.started
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
        self.stop()
        sys.exit(f"the server was not ready within {limit_s:.0f} s")

    def memory_mb(self) -> dict[str, float]:
        """Resident memory now and at its peak (the single worker is this process)."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        fields = {
            line.split(":")[0]: line.split()[1] for line in status.splitlines() if line.startswith("Vm")
        }
        return {
            "rss_mb": round(int(fields["VmRSS"]) / 1024, 1),
            "peak_mb": round(int(fields["VmHWM"]) / 1024, 1),
        }

    def cpu_seconds(self) -> float:
        """CPU time the server process has used so far (all its threads, user and system): per request, the
        figure a busy machine disturbs least."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# -- load -------------------------------------------------------------------------------------------------


async def closed_loop(url: str, key: str, bodies: list[dict[str, Any]], concurrency: int) -> dict[str, Any]:
    """``concurrency`` clients, each sending its next request when the previous answered."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue = list(reversed(bodies))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30, limits=limits) as client:

        async def worker() -> None:
            while queue:
                body = queue.pop()
                started = time.perf_counter()
                try:
                    status = (await client.post("/v1/exceptions", json=body)).status_code
                except httpx.HTTPError:
                    status = 0
                latencies.append((time.perf_counter() - started) * 1000)
                statuses[status] = statuses.get(status, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    errors = sum(count for status, count in statuses.items() if status not in (200, 201))
    return {
        "concurrency": concurrency,
        "n": len(latencies),
        "throughput": round(len(latencies) / seconds, 1),
        **percentiles(latencies),
        "errors": errors,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


def stage_sums(url: str) -> dict[str, tuple[float, float]]:
    """``stage -> (sum of seconds, count)`` from ``/metrics`` (and the encoder batch sizes as ``batch``)."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    sums: dict[str, list[float]] = {}
    for line in text.splitlines():
        for metric, key in (("triage_stage_seconds", None), ("triage_encoder_batch_texts", "batch")):
            for part, index in (("_sum", 0), ("_count", 1)):
                prefix = metric + part
                if not line.startswith(prefix):
                    continue
                name = key or line.split('stage="', 1)[1].split('"', 1)[0]
                sums.setdefault(name, [0.0, 0.0])[index] = float(line.rsplit(" ", 1)[1])
    return {name: (pair[0], pair[1]) for name, pair in sums.items()}


def stage_means(
    before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]]
) -> dict[str, float]:
    """Mean milliseconds per stage between two scrapes (``batch``: mean texts per encoder pass)."""
    out = {}
    for name, (total, count) in after.items():
        total0, count0 = before.get(name, (0.0, 0.0))
        if count > count0:
            scale = 1 if name == "batch" else 1000
            out[name] = round(scale * (total - total0) / (count - count0), 2)
    return out


def serve_and_load(home: Path, backend: str, args: argparse.Namespace) -> dict[str, Any]:
    env = server_env(home, backend, args.threads)
    key = workflow_key(env)
    server = Server(env)
    try:
        result: dict[str, Any] = {"ready_s": round(server.wait_ready(), 2)}
        asyncio.run(closed_loop(server.url, key, bench_events(5, f"{backend}-warm"), 1))
        levels = []
        for concurrency in args.concurrency:
            before, cpu_before = stage_sums(server.url), server.cpu_seconds()
            bodies = bench_events(args.requests * (1 if concurrency == 1 else 2), f"{backend}-c{concurrency}")
            level = asyncio.run(closed_loop(server.url, key, bodies, concurrency))
            level["stages_ms"] = stage_means(before, stage_sums(server.url))
            level["server_cpu_ms"] = round(1000 * (server.cpu_seconds() - cpu_before) / len(bodies), 1)
            level["load"] = round(os.getloadavg()[0], 2)
            levels.append(level)
            print(format_level(backend, level), flush=True)
        result["levels"] = levels
        result["memory"] = server.memory_mb()
    finally:
        server.stop()
    return result


def format_level(backend: str, level: dict[str, Any]) -> str:
    stages = " ".join(f"{k} {v}" for k, v in level["stages_ms"].items())
    return (
        f"{backend:<9} c={level['concurrency']:<3} n={level['n']:<4} {level['throughput']:>6} req/s  "
        f"p50 {level['p50']:>6} p95 {level['p95']:>6} p99 {level['p99']:>6} ms  errors {level['errors']}  "
        f"server CPU {level['server_cpu_ms']} ms/req  load {level['load']}  [ms: {stages}]"
    )


# -- the floor --------------------------------------------------------------------------------------------


def floor(home: Path, backend: str, threads: int, texts: list[str]) -> dict[str, Any]:
    """The same model work in this process: encoder pass, classifier members, search; batch 1 and 32."""
    from triage.config import Settings
    from triage.engines.classifier import load_classifier
    from triage.engines.embedder import CachingEmbedder
    from triage.engines.retrieval import open_case_store, vectors_for

    settings = Settings(home=home, environment="test", encoder_backend=backend, encoder_threads=threads)
    raw = raw_encoder(settings)
    for text in texts[:3]:
        raw.embed([text])  # warm-up
    encoder_ms = [timed_ms(lambda t=text: raw.embed([t])) for text in texts[:100]]
    cached = CachingEmbedder(raw, size=4 * len(texts))  # one pass per text, shared by members and search
    classifier = load_classifier(settings.resolved_model_dir, cached)
    store = open_case_store(settings, embedding_model_id=cached.model_id, dimension=cached.dimension)
    try:

        def work(batch: list[str]) -> None:
            classifier.predict(batch)
            for vector in vectors_for(store, cached, batch):
                store.search(vector, k=settings.similar_k)

        half = len(texts) // 2
        cpu_started = time.process_time()
        single = [timed_ms(lambda t=text: work([t])) for text in texts[:half]]
        cpu_b1 = (time.process_time() - cpu_started) * 1000 / half
        cpu_started = time.process_time()
        batched = [
            timed_ms(lambda b=texts[i : i + BATCH]: work(b)) / BATCH
            for i in range(half, len(texts) - BATCH + 1, BATCH)
        ]
        cpu_b32 = (time.process_time() - cpu_started) * 1000 / (len(batched) * BATCH)
    finally:
        store.close()
    per_text_b32 = statistics.mean(batched)
    return {
        "encoder_pass_ms": round(statistics.median(encoder_ms), 2),
        "batch1_cpu_ms": round(cpu_b1, 2),
        "batch32_cpu_ms_per_text": round(cpu_b32, 2),
        "batch1_p50_ms": round(statistics.median(single), 2),
        "batch32_ms_per_text": round(per_text_b32, 2),
        "batch32_throughput": round(1000 / per_text_b32, 1),
    }


def raw_encoder(settings: Any) -> Any:
    from triage.engines.embedder import SentenceTransformerEmbedder, configure_threads

    if settings.encoder_backend == "onnx-int8":
        from triage.engines.onnx_encoder import OnnxEmbedder

        return OnnxEmbedder(settings.resolved_model_dir, threads=settings.encoder_threads)
    configure_threads(settings.encoder_threads)
    return SentenceTransformerEmbedder(settings.embedding_model)


def timed_ms(call: Any) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


# -- the verdict ------------------------------------------------------------------------------------------


def verdict(service: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    by_c = {level["concurrency"]: level for level in service["levels"]}
    out: dict[str, Any] = {}
    if 1 in by_c:
        p50 = by_c[1]["p50"]
        out["c1_p50_over_encoder_pass"] = round(p50 / base["encoder_pass_ms"], 2)
        out["c1_p50_over_floor_b1"] = round(p50 / base["batch1_p50_ms"], 2)
    top = max(by_c)
    out[f"c{top}_throughput_over_floor_b32"] = round(by_c[top]["throughput"] / base["batch32_throughput"], 2)
    checks = {
        "c1 p50 <= 2 x encoder pass": out.get("c1_p50_over_encoder_pass", 99) <= 2,
        "c1 p50 <= 1.5 x floor b1": out.get("c1_p50_over_floor_b1", 99) <= 1.5,
        f"c{top} throughput >= 0.8 x floor b32": out[f"c{top}_throughput_over_floor_b32"] >= 0.8,
        f"c{top} p99 < 1 s": by_c[top]["p99"] < 1000,
        "no errors": all(level["errors"] == 0 for level in service["levels"]),
        "RSS < 700 MB": service["memory"]["peak_mb"] < 700,
        "/ready < 15 s": service["ready_s"] < 15,
    }
    out["checks"] = checks
    return out


def print_backend(
    backend: str, service: dict[str, Any], base: dict[str, Any], ratios: dict[str, Any]
) -> None:
    print(
        f"{backend:<9} floor: encoder pass {base['encoder_pass_ms']} ms; batch 1 {base['batch1_p50_ms']} ms/text (p50); "
        f"batch 32 {base['batch32_ms_per_text']} ms/text = {base['batch32_throughput']} texts/s; "
        f"CPU per text {base['batch1_cpu_ms']} ms at batch 1, {base['batch32_cpu_ms_per_text']} ms at batch 32"
    )
    print(
        f"{backend:<9} ready in {service['ready_s']} s; RSS {service['memory']['rss_mb']} MB "
        f"(peak {service['memory']['peak_mb']} MB); ratios "
        + ", ".join(f"{k} {v}" for k, v in ratios.items() if k != "checks")
    )
    for name, ok in ratios["checks"].items():
        print(f"{backend:<9}   {'ok  ' if ok else 'MISS'} {name}")


def ensure_onnx(home: Path) -> None:
    """Homes bootstrapped before the int8 encoder was part of the artifact get it now (as training would)."""
    from triage.engines.embedder import SentenceTransformerEmbedder
    from triage.engines.onnx_encoder import MANIFEST_FILE, export_onnx_encoder

    model_dir = home / "models" / "default"
    if not (model_dir / MANIFEST_FILE).is_file():
        print(
            "exporting the int8 encoder into the artifact (made before training exported it)", file=sys.stderr
        )
        export_onnx_encoder(model_dir, SentenceTransformerEmbedder())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench_service", description=__doc__)
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--requests", type=int, default=120, help="per level (twice as many above c=1)")
    parser.add_argument("--threads", type=int, default=1, help="TRIAGE_ENCODER_THREADS")
    parser.add_argument("--search-points", type=int, default=100_000, help="0 skips the search benchmark")
    parser.add_argument("--home", type=Path, default=None, help="a bootstrapped TRIAGE_HOME to copy")
    parser.add_argument("--json", type=Path, default=ROOT / "var" / "bench" / "service.json")
    args = parser.parse_args(argv)
    if not 1 <= args.requests <= 5000 or any(not 1 <= c <= 256 for c in args.concurrency):
        parser.error("requests must be within 1..5000 and concurrency within 1..256")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    load = os.getloadavg()
    home = bootstrapped_home(args.home)
    ensure_onnx(home)
    result: dict[str, Any] = {"machine": platform.node(), "cpus": os.cpu_count(), "load_before": load}
    texts = texts_of(bench_events(2 * BATCH * 4, "floor"))
    try:
        for backend in args.backends:
            service = serve_and_load(home, backend, args)
            base = floor(home, backend, args.threads, texts)
            ratios = verdict(service, base)
            print_backend(backend, service, base, ratios)
            result[backend] = {"service": service, "floor": base, "ratios": ratios}
        if args.search_points:
            from eval.bench_search import bench_search

            result["search"] = bench_search(home, args.search_points)
    finally:
        shutil.rmtree(home.parent, ignore_errors=True)
    result["load_after"] = os.getloadavg()
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(
        f"bench done in {result['seconds']} s; load average before {load[0]:.2f}, after {result['load_after'][0]:.2f}"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
