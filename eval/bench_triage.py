"""End-to-end ``POST /v1/exceptions`` latency over real loopback HTTP: ``python -m eval.bench_triage``.

Three servers on one bootstrapped home, each a real uvicorn on 127.0.0.1: no LLM configured; an LLM that
accepts connections and never answers (a black hole on loopback) before its breaker opens; the same after the
breaker opened. Targets (issue 4): LLM down, p99 < timeout + 200 ms; breaker open, p99 < no-LLM p99 + 100 ms.
Bounded: a fixed number of requests per scenario, each with a client timeout; stops by itself.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
TEST_SET = ROOT / "eval" / "datasets" / "order_exceptions" / "test.jsonl"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def black_hole() -> Iterator[str]:
    """A loopback TCP server that accepts connections and never answers: an LLM that hangs."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(128)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                conn, _ = server.accept()
                held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/v1"
    finally:
        stop.set()
        thread.join(1)
        for conn in held:
            conn.close()
        server.close()


def bootstrapped_home(base: Path | None) -> Path:
    """Copy an existing bootstrapped home (default ./var) or bootstrap a fresh one."""
    from triage.cli import main as triage_main
    from triage.config import get_settings

    target = Path(tempfile.mkdtemp(prefix="triage-bench-")) / "home"
    source = base or ROOT / "var"
    if (source / "models" / "default" / "metadata.json").is_file():
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.lock", ".lock"))
        return target
    print(f"bootstrapping a home in {target} (no bootstrapped {source})", file=sys.stderr)
    os.environ["TRIAGE_HOME"] = str(target)
    get_settings.cache_clear()
    with contextlib.redirect_stdout(None):
        if triage_main(["bootstrap"]) != 0:
            sys.exit("triage bootstrap failed")
    return target


@contextlib.contextmanager
def serve(home: Path, **overrides: Any) -> Iterator[tuple[str, str]]:
    """The real app under uvicorn on a free loopback port; yields (base url, workflow key)."""
    import uvicorn

    from triage.app import create_app
    from triage.config import Settings
    from triage.core.actors import Role
    from triage.domain.auth.repositories import ApiKeyRepository
    from triage.domain.auth.services import KeyService

    settings = Settings(home=home, environment="test", rate_limit_per_minute=1_000_000, **overrides)
    app = create_app(settings)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    registry = app.state["registry"]
    deadline = time.monotonic() + 300
    while not (server.started and registry.readiness.started.is_set()):
        if time.monotonic() > deadline:
            sys.exit("the app did not start within 300 s")
        time.sleep(0.1)
    if not registry.readiness.ready:
        sys.exit(f"the app failed to start: {registry.readiness.error}")
    key = KeyService(ApiKeyRepository(registry.require().sessions)).create(Role.WORKFLOW, "bench", ()).key
    try:
        yield f"http://127.0.0.1:{port}", key
    finally:
        server.should_exit = True
        thread.join(10)


def events(n: int, tag: str) -> list[dict[str, Any]]:
    with TEST_SET.open(encoding="utf-8") as handle:
        rows = [json.loads(line)["event"] for _, line in zip(range(n), handle, strict=False)]
    for i, event in enumerate(rows):
        event["event_id"] = f"BENCH-{tag}-{i:05d}"
    return rows


def measure(url: str, key: str, bodies: list[dict[str, Any]], timeout_s: float) -> dict[str, float]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=timeout_s) as client:
        for body in bodies:
            started = time.perf_counter()
            response = client.post("/v1/exceptions", json=body)
            latencies.append((time.perf_counter() - started) * 1000)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "n": len(ordered),
        "p50": round(statistics.median(ordered), 1),
        "p99": round(p99, 1),
        "max": round(ordered[-1], 1),
        "non_2xx": sum(c for s, c in statuses.items() if not 200 <= s < 300),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=40, help="requests per scenario")
    parser.add_argument("--llm-timeout", type=float, default=1.0)
    parser.add_argument("--home", type=Path, default=None, help="a bootstrapped TRIAGE_HOME to copy")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if not TEST_SET.is_file():
        sys.exit(f"{TEST_SET} is missing")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    home = bootstrapped_home(args.home)
    n = args.requests
    results: dict[str, dict[str, float]] = {}
    with serve(home) as (url, key):
        measure(url, key, events(3, "warm"), 30)
        results["no LLM"] = measure(url, key, events(n, "none"), 30)
    with (
        black_hole() as llm_url,
        serve(home, llm_base_url=llm_url, llm_timeout_s=args.llm_timeout, llm_breaker_failures=10_000) as (
            url,
            key,
        ),
    ):
        measure(url, key, events(2, "warm2"), 30)
        results["LLM hanging"] = measure(url, key, events(n, "hang"), 30)
    with (
        black_hole() as llm_url,
        serve(
            home,
            llm_base_url=llm_url,
            llm_timeout_s=args.llm_timeout,
            llm_breaker_failures=2,
            llm_breaker_cooldown_s=3600,
        ) as (url, key),
    ):
        measure(url, key, events(3, "trip"), 30)
        results["breaker open"] = measure(url, key, events(n, "open"), 30)

    print(f"{'scenario':<14} {'n':>4} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'non-2xx':>8}")
    for name, row in results.items():
        print(
            f"{name:<14} {row['n']:>4.0f} {row['p50']:>8} {row['p99']:>8} {row['max']:>8} {row['non_2xx']:>8.0f}"
        )
    hang_ok = results["LLM hanging"]["p99"] < args.llm_timeout * 1000 + 200
    open_ok = results["breaker open"]["p99"] < results["no LLM"]["p99"] + 100
    print(
        f"LLM down p99 < timeout + 200 ms: {'yes' if hang_ok else 'NO'}; "
        f"breaker open p99 < no-LLM p99 + 100 ms: {'yes' if open_ok else 'NO'}"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    shutil.rmtree(home.parent, ignore_errors=True)
    return 0 if hang_ok and open_ok else 1


if __name__ == "__main__":
    sys.exit(main())
