"""The governed model change end to end, on the shipped history: ``python eval/model_swap.py``.

1. ``triage bootstrap`` into a fresh temporary home (the frozen-encoder model, the frozen collection);
2. ``triage serve`` with ``TRIAGE_MODEL_BACKGROUND_TUNING=true`` (what ``make run`` sets): once ready, the server
   starts the background job that trains the tuned candidate (tuned encoder, a new collection in a learnt space),
   validates it against the model in force and promotes it when it is not worse;
3. meanwhile a loopback client keeps triaging test-set events, counting answers by status, transport errors and
   the model version each case records; the job's progress is read from ``GET /v1/models/jobs``;
4. once the server serves the tuned model: the audit record of the promotion (both models' figures);
5. a deliberately worse candidate (``triage model train --sample 0.1``) is refused promotion, with its figures;
6. ``POST /v1/models/rollback``: the previous model and collection come back, audited;
7. the client's counts: no 5xx and no errors is the pass.

Loopback only; every ``TRIAGE_*`` variable of the caller is dropped. Exit 0 when everything held, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eval.first_run import (  # noqa: E402
    TEST_SET,
    free_port,
    fresh_environment,
    run_bootstrap,
    serving,
    triage_command,
    wait_ready,
)

FINISHED = {"promoted", "refused", "registered", "failed"}


@dataclass
class Traffic:
    """What the loopback client saw."""

    statuses: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    versions: Counter[str] = field(default_factory=Counter)
    seconds: list[float] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)


def events() -> list[dict[str, Any]]:
    with TEST_SET.open(encoding="utf-8") as handle:
        return [json.loads(line)["event"] for line in handle]


def keep_triaging(url: str, key: str, traffic: Traffic, pause_s: float) -> None:
    """Post test-set events one after another (fresh event ids) until told to stop."""
    pool = events()
    n = 0
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
        while not traffic.stop.is_set():
            event = dict(pool[n % len(pool)], event_id=f"swap-{n:06d}")
            n += 1
            started = time.perf_counter()
            try:
                response = client.post("/v1/exceptions", json=event)
            except httpx.HTTPError as exc:
                traffic.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            traffic.seconds.append(time.perf_counter() - started)
            traffic.statuses[response.status_code] += 1
            if response.status_code == 201:
                traffic.versions[response.json()["versions"]["model"][:12]] += 1
            traffic.stop.wait(pause_s)


def say(message: str) -> None:
    print(message, flush=True)


def wait_for_job(client: httpx.Client, admin: str, timeout_s: float) -> dict[str, Any]:
    """Follow the background job until it ends; its last state."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        jobs = client.get("/v1/models/jobs", headers={"Authorization": f"Bearer {admin}"}).json()["items"]
        job = jobs[0] if jobs else None
        state = (job["status"], job["step"], round(job["progress"], 2)) if job else None
        if state != last:
            say(f"  job: {state}")
            last = state
        if job and job["status"] in FINISHED:
            return dict(job)
        time.sleep(5)
    sys.exit(f"the background job did not end within {timeout_s:.0f} s")


def wait_serving(client: httpx.Client, key: str, version_id: str, timeout_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        model = client.get("/v1/model", headers={"Authorization": f"Bearer {key}"}).json()
        if model.get("id") == version_id:
            return dict(model)
        time.sleep(1)
    sys.exit(f"the server did not serve {version_id} within {timeout_s:.0f} s")


def figures_line(name: str, figures: dict[str, Any] | None) -> str:
    if not figures:
        return f"    {name}: -"
    auto = figures.get("auto") or {}
    return (
        f"    {name}: accuracy {figures['accuracy']:.4f}, macro-F1 {figures['macro_f1']:.4f}, ECE {figures['ece']:.4f}, "
        f"auto precision {auto.get('precision') or 0:.4f} at coverage {auto.get('coverage') or 0:.4f} "
        f"(n={figures['n']})"
    )


def show_audit(client: httpx.Client, compliance: str, action: str) -> dict[str, Any]:
    response = client.get(
        "/v1/audit", params={"action": action, "limit": 10}, headers={"Authorization": f"Bearer {compliance}"}
    )
    items = response.json()["items"]
    if not items:
        sys.exit(f"no {action} record in the audit log")
    record = items[-1]
    say(
        f"  audit #{record['seq']} {action} by {record['actor_subject']}: {record['reason']} ({record['outcome']})"
    )
    for side in ("before", "after"):
        part = record.get(side) or {}
        say(f"   {side}: {part.get('id')} ({part.get('recipe')}, collection {part.get('collection')})")
        say(figures_line("held-out", part.get("heldout")))
    return dict(record)


def worse_candidate(command: list[str], environment: dict[str, str]) -> tuple[int, str]:
    """``triage model train --sample 0.1`` then ``triage model promote``: the exit code and what it printed."""
    trained = subprocess.run(
        [*command, "model", "train", "--sample", "0.1"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if trained.returncode not in (0, 1):
        sys.exit(f"triage model train --sample 0.1 failed: {trained.stderr[-2000:]}")
    version_id = trained.stdout.split()[1]
    promoted = subprocess.run(
        [*command, "model", "promote", version_id, "--reason", "a candidate on 10% of the history"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    return promoted.returncode, promoted.stdout + promoted.stderr


def run(args: argparse.Namespace, home: Path) -> int:
    command = triage_command()
    environment = fresh_environment(home)
    say(f"bootstrap into {home} ...")
    boot = run_bootstrap(command, environment, timeout_s=900, quiet=True)
    say(f"  done in {boot.seconds:.0f} s")
    keys = boot.keys
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    serve_env = environment | {
        "TRIAGE_MODEL_BACKGROUND_TUNING": "true",
        "TRIAGE_MODEL_JOB_POLL_INTERVAL_S": "2",
        "TRIAGE_MODEL_POLL_INTERVAL_S": "2",
        "TRIAGE_RATE_LIMIT_PER_MINUTE": "100000",
    }
    traffic = Traffic()
    ok = True
    with (
        serving(command, serve_env, port, home / "serve.log") as process,
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        say(f"serve: ready in {wait_ready(client, process, 300):.1f} s")
        first = client.get("/v1/model", headers={"Authorization": f"Bearer {keys['workflow']}"}).json()
        say(
            f"  in force: {first['id']} (classifier {first['version'][:12]}, collection {first['collection']})"
        )
        started = time.monotonic()
        triaging = threading.Thread(
            target=keep_triaging, args=(url, keys["workflow"], traffic, args.pause), daemon=True
        )
        triaging.start()
        job = wait_for_job(client, keys["admin"], args.timeout)
        say(
            f"background job {job['id']}: {job['status']} after {time.monotonic() - started:.0f} s; {job['detail'] or job['error']}"
        )
        if job["status"] != "promoted":
            ok = False
        else:
            tuned = wait_serving(client, keys["workflow"], job["candidate_version_id"])
            say(
                f"  serving {tuned['id']} (classifier {tuned['version'][:12]}, collection {tuned['collection']}) without a restart"
            )
            show_audit(client, keys["compliance"], "model.promoted")
        say("a candidate trained on 10% of the history:")
        code, printed = worse_candidate(command, serve_env)
        say("\n".join(f"  | {line}" for line in printed.strip().splitlines()))
        ok = ok and code == 1
        say("rollback:")
        response = client.post(
            "/v1/models/rollback",
            json={"reason": "model_swap.py: back to the bootstrap model"},
            headers={"Authorization": f"Bearer {keys['admin']}"},
        )
        say(f"  POST /v1/models/rollback: {response.status_code}")
        if response.status_code == 200:
            back = wait_serving(client, keys["workflow"], response.json()["active"]["id"])
            ready = client.get("/ready").json()["components"]
            say(
                f"  serving {back['id']} again, collection {ready['case_store'].get('collection')}, {ready['case_store'].get('points')} cases"
            )
            show_audit(client, keys["compliance"], "model.rolled_back")
            ok = ok and back["id"] == first["id"]
        else:
            ok = False
        time.sleep(3)
        traffic.stop.set()
        triaging.join(30)
    ok = summarize(traffic) and ok
    say("PASS" if ok else "FAIL")
    return 0 if ok else 1


def summarize(traffic: Traffic) -> bool:
    """Print the client's counts; True when it saw no 5xx, no transport error and only 201s."""
    fivexx = sum(n for status, n in traffic.statuses.items() if status >= 500)
    total = sum(traffic.statuses.values())
    p50 = statistics.median(traffic.seconds) * 1000 if traffic.seconds else 0.0
    p99 = sorted(traffic.seconds)[int(0.99 * (len(traffic.seconds) - 1))] * 1000 if traffic.seconds else 0.0
    say(
        f"loopback client: {total} answers {dict(traffic.statuses)}, {fivexx} 5xx, {len(traffic.errors)} transport errors, "
        f"latency p50 {p50:.0f} ms p99 {p99:.0f} ms; cases per classifier version: {dict(traffic.versions)}"
    )
    for error in traffic.errors[:5]:
        say(f"  error: {error}")
    return fivexx == 0 and not traffic.errors and all(status == 201 for status in traffic.statuses)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--timeout", type=float, default=3600, help="seconds the background job may take")
    parser.add_argument("--pause", type=float, default=0.2, help="seconds between the client's requests")
    parser.add_argument("--keep", action="store_true", help="keep the temporary home")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="triage-model-swap-"))
    try:
        return run(args, root / "home")
    finally:
        if args.keep:
            say(f"home kept at {root / 'home'}")
        else:
            with contextlib.suppress(OSError):
                import shutil

                shutil.rmtree(root)


if __name__ == "__main__":
    sys.exit(main())
