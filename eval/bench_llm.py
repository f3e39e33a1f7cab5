"""Draft latency with no LLM, a healthy LLM, a hanging LLM, a refused connection and an open breaker:
``python -m eval.bench_llm``.

Everything runs on loopback against the scripted OpenAI-compatible server of the tests (real SDK, real HTTP).
The table gives p50/p99/max in ms per ``draft()`` call. Targets: a hanging LLM costs at most the timeout plus
~50 ms; with the breaker open a call costs a few ms, i.e. about what the no-LLM path costs. Bounded (< 60 s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.integration.fake_llm import FakeLLM, good, hang, status
from triage.config import Settings
from triage.core.events import ExceptionEvent
from triage.engines.drafting import DraftContext, Drafter, DraftSet, build_drafter

ROOT = Path(__file__).resolve().parents[1]
TEST_SET = ROOT / "eval" / "datasets" / "order_exceptions" / "test.jsonl"


def contexts(limit: int) -> list[DraftContext]:
    rows: list[dict[str, Any]] = []
    if TEST_SET.is_file():
        with TEST_SET.open(encoding="utf-8") as handle:
            rows = [json.loads(line) for _, line in zip(range(limit), handle, strict=False)]
    if not rows:
        sys.exit(f"{TEST_SET} is missing: run python -m eval.generate_history first")
    return [
        DraftContext(
            ExceptionEvent.model_validate(r["event"]),
            r["label"],
            0.8,
            False,
            "medium",
            "fulfillment",
            [],
            r.get("resolution_action"),
        )
        for r in rows
    ]


def settings(base_url: str | None, timeout_s: float, failures: int) -> Settings:
    return Settings(
        llm_base_url=base_url,
        llm_timeout_s=timeout_s,
        llm_breaker_failures=failures,
        llm_breaker_cooldown_s=3600,
        prompts_dir=ROOT / "prompts",
        factcheck_file=ROOT / "guardrails" / "factcheck.yaml",
        taxonomy_file=ROOT / "guardrails" / "taxonomy.yaml",
    )


async def measure(
    drafter: Drafter, ctxs: list[DraftContext], n: int, concurrency: int
) -> tuple[list[float], DraftSet]:
    latencies: list[float] = []
    last: list[DraftSet] = []
    semaphore = asyncio.Semaphore(concurrency)

    async def one(ctx: DraftContext) -> None:
        async with semaphore:
            started = time.perf_counter()
            last.append(await drafter.draft(ctx))
            latencies.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(one(ctxs[i % len(ctxs)]) for i in range(n)))
    return latencies, last[-1]


def row(name: str, latencies: list[float], result: DraftSet) -> str:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    gen = f"{result.summary.generator}/{result.customer_update.generator}"
    return (
        f"| {name:<22} | {len(ordered):>4} | {statistics.median(ordered):>8.1f} | {p99:>8.1f} | "
        f"{ordered[-1]:>8.1f} | {gen:<35} | {','.join(result.degraded) or '-':<8} |"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--timeout", type=float, default=1.0, help="TRIAGE_LLM_TIMEOUT_S for the LLM scenarios"
    )
    parser.add_argument("--n", type=int, default=200, help="calls per fast scenario")
    parser.add_argument("--hang-n", type=int, default=12, help="calls against the hanging server")
    args = parser.parse_args(argv)
    ctxs = contexts(200)
    fake = FakeLLM()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    lines = [
        f"draft() latency in ms, timeout {args.timeout:.1f} s, {len(ctxs)} shipped test events, loopback",
        f"| {'scenario':<22} | {'n':>4} | {'p50':>8} | {'p99':>8} | {'max':>8} | "
        f"{'generator (summary/update)':<35} | {'degraded':<8} |",
        "|---|---|---|---|---|---|---|",
    ]
    started = time.perf_counter()
    try:
        scenarios: list[tuple[str, str | None, Any, int, int, int]] = [
            ("no LLM (templates)", None, None, args.n, 1, 3),
            ("LLM healthy", fake.base_url, good(), args.n, 1, 1000),
            ("LLM hanging (timeout)", fake.base_url, hang(30), args.hang_n, 4, 1000),
            ("LLM refused (down)", refused, None, args.n // 4, 1, 1000),
            ("breaker open", fake.base_url, status(500), args.n, 1, 1),
        ]
        for name, url, behaviour, n, concurrency, failures in scenarios:
            fake.reset()
            if behaviour is not None:
                fake.default = behaviour
            drafter = build_drafter(settings(url, args.timeout, failures))
            if name == "breaker open":
                asyncio.run(drafter.draft(ctxs[0]))  # the one failure that opens it
                assert drafter.health()["llm"] == "open"
                sent = len(fake.requests)
            else:
                asyncio.run(measure(drafter, ctxs, min(5, n), 1))  # warm-up: imports, connections, caches
            latencies, result = asyncio.run(measure(drafter, ctxs, n, concurrency))
            if name == "breaker open":
                assert len(fake.requests) == sent, "no request may leave while the breaker is open"
            lines.append(row(name, latencies, result))
    finally:
        fake.close()
    print("\n".join(lines))
    print(f"done in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
