"""Time a first run as a new user meets it, on a fresh home: ``python eval/first_run.py``.

``triage bootstrap`` (and each of its steps, read from its ``<step>: done in <s> s`` lines) → ``triage serve``
until ``/ready`` answers 200 → the README's example request (the first event of the test set, with the
workflow key bootstrap printed) answered. Install is assumed done (``make install``).

Bounded: each stage has a deadline and a stage that misses it fails the run. Loopback only: the server listens
on 127.0.0.1 on a free port, every ``TRIAGE_*`` variable of the caller is dropped (no database, Qdrant server or
LLM endpoint elsewhere), and HTTP proxies are ignored. The server is stopped by this script, and the fresh home
(a temporary folder) is removed unless ``--keep``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
TEST_SET = ROOT / "eval" / "datasets" / "order_exceptions" / "test.jsonl"
STEP_LINE = re.compile(r"^(?P<indent> *)(?P<name>\S.*?): (?:done in|failed after) (?P<seconds>[0-9.]+) s$")
EXPORT_LINE = re.compile(r"^export (?P<role>[A-Z]+)_KEY=(?P<value>\S+)$")


@dataclass
class Bootstrap:
    """What one ``triage bootstrap`` run printed: its steps (depth, name, seconds) and the keys."""

    seconds: float = 0.0
    keys_after_s: float | None = None
    steps: list[tuple[int, str, float]] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)


def triage_command() -> list[str]:
    beside = Path(sys.executable).with_name("triage")
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("triage")
    if found is None:
        sys.exit("the `triage` command is not installed; run `make install` first")
    return [found]


def fresh_environment(home: Path) -> dict[str, str]:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("TRIAGE_")}
    environment |= {
        "TRIAGE_HOME": str(home),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONUNBUFFERED": "1",
    }
    return environment


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _follow(stream: IO[str], on_line: Any) -> threading.Thread:
    def read() -> None:
        for line in stream:
            on_line(line.rstrip("\n"))

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def run_bootstrap(
    command: list[str], environment: dict[str, str], timeout_s: float, quiet: bool
) -> Bootstrap:
    """Run ``triage bootstrap``, echoing its stderr (unless ``quiet``) and reading its steps and keys."""
    result = Bootstrap()
    started = time.perf_counter()

    def on_stdout(line: str) -> None:
        match = EXPORT_LINE.match(line)
        if match:
            if result.keys_after_s is None:
                result.keys_after_s = time.perf_counter() - started
            result.keys[match["role"].lower()] = shlex.split(match["value"])[0]

    def on_stderr(line: str) -> None:
        if not quiet:
            print(f"  | {line}", file=sys.stderr, flush=True)
        match = STEP_LINE.match(line)
        if match:
            result.steps.append((len(match["indent"]) // 2, match["name"], float(match["seconds"])))

    process = subprocess.Popen(
        [*command, "bootstrap"],
        cwd=ROOT,
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    readers = [_follow(process.stdout, on_stdout), _follow(process.stderr, on_stderr)]
    try:
        code = process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        sys.exit(f"triage bootstrap did not finish within {timeout_s:.0f} s")
    for reader in readers:
        reader.join(5)
    result.seconds = time.perf_counter() - started
    if code != 0:
        sys.exit(f"triage bootstrap failed (exit {code})")
    if "workflow" not in result.keys:
        sys.exit("triage bootstrap printed no `export WORKFLOW_KEY=...` line (was the home really fresh?)")
    return result


@contextlib.contextmanager
def serving(
    command: list[str], environment: dict[str, str], port: int, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """``triage serve`` on 127.0.0.1:``port``, its output in ``log``; stopped (SIGINT, then kill) on exit."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*command, "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def wait_ready(client: httpx.Client, process: subprocess.Popen[bytes], timeout_s: float) -> float:
    """Seconds from now until ``/ready`` answers 200."""
    started = time.perf_counter()
    deadline = started + timeout_s
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            sys.exit(f"triage serve exited (code {process.returncode}) before it was ready")
        with contextlib.suppress(httpx.TransportError):
            if client.get("/ready").status_code == 200:
                return time.perf_counter() - started
        time.sleep(0.25)
    sys.exit(f"triage serve was not ready within {timeout_s:.0f} s")


def first_triage(client: httpx.Client, key: str) -> tuple[float, dict[str, Any]]:
    """The README's example: the first test-set event posted with the workflow key; (seconds, response)."""
    with TEST_SET.open(encoding="utf-8") as handle:
        event = json.loads(handle.readline())["event"]
    started = time.perf_counter()
    response = client.post("/v1/exceptions", json=event, headers={"Authorization": f"Bearer {key}"})
    seconds = time.perf_counter() - started
    if response.status_code != 201:
        sys.exit(f"POST /v1/exceptions answered {response.status_code}: {response.text[:300]}")
    return seconds, response.json()


def outer_first(steps: list[tuple[int, str, float]]) -> list[tuple[int, str, float]]:
    """Steps in reading order: a step ends (and prints its line) after the steps inside it, so put it first."""
    pending: dict[int, list[tuple[int, str, float]]] = {}
    for depth, name, seconds in steps:
        inner = [row for level in sorted(k for k in pending if k > depth) for row in pending.pop(level)]
        pending.setdefault(depth, []).extend([(depth, name, seconds), *inner])
    return [row for level in sorted(pending) for row in pending[level]]


def report(
    home: Path, boot: Bootstrap, ready_s: float, triage_s: float, answer: dict[str, Any]
) -> dict[str, Any]:
    rows: list[tuple[str, float, str]] = [("bootstrap", boot.seconds, "")]
    rows += [("  " * (depth + 1) + name, seconds, "") for depth, name, seconds in outer_first(boot.steps)]
    rows.append(("keys on screen after", boot.keys_after_s or 0.0, "from the start of bootstrap"))
    rows.append(("serve: /ready after", ready_s, ""))
    similar = answer.get("similar_cases") or []
    label = (answer.get("classification") or {}).get("label")
    rows.append(("first triage answered", triage_s, f"201, {label}, {len(similar)} similar cases"))
    total = boot.seconds + ready_s + triage_s
    rows.append(("first run, total", total, ""))
    print(f"first run on a fresh home ({home}):")
    for name, seconds, note in rows:
        print(f"  {name:<58} {seconds:>7.1f} s  {note}".rstrip())
    return {
        "bootstrap_s": boot.seconds,
        "bootstrap_steps": [{"depth": d, "step": n, "seconds": s} for d, n, s in boot.steps],
        "keys_after_s": boot.keys_after_s,
        "ready_s": ready_s,
        "first_triage_s": triage_s,
        "similar_cases": len(similar),
        "total_s": total,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--home", type=Path, default=None, help="an empty or absent folder (default: a temporary one)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the home afterwards")
    parser.add_argument("--bootstrap-timeout", type=float, default=900.0)
    parser.add_argument("--ready-timeout", type=float, default=300.0)
    parser.add_argument("--request-timeout", type=float, default=60.0)
    parser.add_argument("--quiet", action="store_true", help="do not echo bootstrap's progress")
    parser.add_argument("--json", type=Path, default=None, help="also write the timings here")
    args = parser.parse_args(argv)
    if not TEST_SET.is_file():
        sys.exit(f"{TEST_SET} is missing")
    home = args.home or Path(tempfile.mkdtemp(prefix="triage-first-run-")) / "home"
    if home.exists() and any(home.iterdir()):
        sys.exit(f"{home} is not empty: a first run needs a fresh home")
    command, environment = triage_command(), fresh_environment(home)
    try:
        boot = run_bootstrap(command, environment, args.bootstrap_timeout, args.quiet)
        port = free_port()
        with (
            serving(command, environment, port, home / "first-run-serve.log") as process,
            httpx.Client(
                base_url=f"http://127.0.0.1:{port}", timeout=args.request_timeout, trust_env=False
            ) as client,
        ):
            ready_s = wait_ready(client, process, args.ready_timeout)
            triage_s, answer = first_triage(client, boot.keys["workflow"])
        timings = report(home, boot, ready_s, triage_s, answer)
    finally:
        if not args.keep and args.home is None:
            shutil.rmtree(home.parent, ignore_errors=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(timings, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
