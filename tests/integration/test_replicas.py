"""Three ``triage serve`` processes over one PostgreSQL and one Redis, driven concurrently, one SIGKILLed halfway.

Afterwards: every acknowledged triage is stored exactly once, the audit chain is valid and gapless, every event
reached a loopback webhook receiver (which verifies each signature with the ``standardwebhooks`` package) at
least once, and no item was escalated twice.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from standardwebhooks import Webhook, WebhookVerificationError

from tests.conftest import POSTGRES_ENV, postgres_unavailable_reason
from tests.integration.live_app import bootstrapped_home, template_history
from triage.config import Settings
from triage.core.actors import Role
from triage.db.engine import create_db_engine, create_session_factory, normalize_database_url
from triage.db.migrate import upgrade_database
from triage.domain.audit.services import AuditService
from triage.domain.auth.repositories import ApiKeyRepository
from triage.domain.auth.services import KeyService

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

REDIS_ENV = "TRIAGE_TEST_REDIS_URL"
REPLICAS = 3
TRIAGE_CALLS = 1000
DECISIONS = 200
TEST_EVENTS = Path("eval/datasets/order_exceptions/test.jsonl")
SIGNING_KEY = "replica-test-audit-key-" + "x" * 16


def redis_unavailable_reason() -> str | None:
    url = os.environ.get(REDIS_ENV)
    if not url:
        return f"{REDIS_ENV} is not set"
    import redis

    try:
        redis.Redis.from_url(url, socket_timeout=2).ping()
    except redis.RedisError as exc:
        return f"Redis at {REDIS_ENV} is not reachable: {type(exc).__name__}"
    return None


@dataclass
class Receiver:
    secret: str = ""
    verified: set[str] = field(default_factory=set)
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Cluster:
    ports: list[int]
    processes: list[subprocess.Popen[bytes]]
    database_url: str
    keys: dict[Role, str]
    receiver: Receiver
    settings: Settings

    def url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.ports[index]}"

    def alive(self) -> list[int]:
        return [i for i, p in enumerate(self.processes) if p.poll() is None]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_receiver(receiver: Receiver) -> tuple[ThreadingHTTPServer, int]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                event = Webhook(receiver.secret).verify(body, headers)
            except WebhookVerificationError:
                with receiver.lock:
                    receiver.refused += 1
                self.send_response(400)
            else:
                with receiver.lock:
                    receiver.verified.add(event["id"])
                self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, int(server.server_address[1])


def fresh_schema_url() -> tuple[str, str]:
    base = normalize_database_url(os.environ[POSTGRES_ENV])
    schema = f"replicas_{uuid.uuid4().hex[:10]}"
    with create_db_engine(base).begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False), schema


def wait_ready(url: str, deadline_s: float = 240) -> None:
    stop = time.monotonic() + deadline_s
    while time.monotonic() < stop:
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} never became ready")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    for reason in (postgres_unavailable_reason(), redis_unavailable_reason()):
        if reason:
            pytest.skip(reason)
    root = tmp_path_factory.mktemp("replicas")
    database_url, schema = fresh_schema_url()
    upgrade_database(database_url)
    settings = Settings(
        home=root / "admin",
        environment="test",
        database_url=database_url,
        audit_signing_key=SIGNING_KEY,
        audit_signing_key_file=root / "audit-signing-key.pem",
        audit_public_keys_file=root / "audit-public-keys.json",
    )
    key_service = KeyService(ApiKeyRepository(create_session_factory(database_url)))
    teams = ("fulfillment", "finance", "logistics", "sales_operations", "customer_service", "compliance")
    keys = {
        role: key_service.create(
            role, f"replica-{role.value}", teams if role in {Role.AGENT, Role.SUPERVISOR} else ()
        ).key
        for role in Role
    }
    receiver = Receiver()
    server, receiver_port = start_receiver(receiver)
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")},
        "TRIAGE_ENVIRONMENT": "test",
        "TRIAGE_DATABASE_URL": database_url,
        "TRIAGE_RATE_LIMIT_STORE_URL": os.environ[REDIS_ENV],
        "TRIAGE_RATE_LIMIT_PER_MINUTE": "1000000",
        "TRIAGE_RATE_LIMIT_PER_ADDRESS_PER_MINUTE": "1000000",
        "TRIAGE_AUDIT_SIGNING_KEY": SIGNING_KEY,
        "TRIAGE_AUDIT_SIGNING_KEY_FILE": str(root / "audit-signing-key.pem"),
        "TRIAGE_AUDIT_PUBLIC_KEYS_FILE": str(root / "audit-public-keys.json"),
        "TRIAGE_HISTORY_FILE": str(template_history()),
        "TRIAGE_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.0/8"]',
        "TRIAGE_WEBHOOK_POLL_INTERVAL_S": "0.5",
        "TRIAGE_WEBHOOK_LEASE_S": "3",
        "TRIAGE_ESCALATION_INTERVAL_S": "0.5",
        "OMP_NUM_THREADS": "1",
    }
    ports = [free_port() for _ in range(REPLICAS)]
    processes = []
    for index, port in enumerate(ports):
        home = root / f"home-{index}"
        shutil.copytree(bootstrapped_home(), home)
        env = environment | {"TRIAGE_HOME": str(home)}
        log = (root / f"replica-{index}.log").open("wb")
        command = [sys.executable, "-m", "triage.cli", "serve", "--port", str(port)]
        processes.append(subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT))
    cluster = Cluster(ports, processes, database_url, keys, receiver, settings)
    try:
        for index in range(REPLICAS):
            wait_ready(cluster.url(index))
        created = httpx.post(
            f"{cluster.url(0)}/v1/webhooks",
            json={"url": f"http://127.0.0.1:{receiver_port}/events"},
            headers={"Authorization": f"Bearer {keys[Role.ADMIN]}"},
        )
        assert created.status_code == 201, created.text
        receiver.secret = created.json()["secret"]
        yield cluster
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            process.wait(timeout=30)
        server.shutdown()
        with create_db_engine(normalize_database_url(os.environ[POSTGRES_ENV])).begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def events(n: int) -> list[dict[str, Any]]:
    import json

    lines = TEST_EVENTS.read_text(encoding="utf-8").splitlines()
    out = []
    for i in range(n):
        event = json.loads(lines[i % len(lines)])["event"]
        event["event_id"] = f"REPLICA-{i:05d}"
        out.append(event)
    return out


def post_anywhere(
    cluster: Cluster, path: str, body: dict[str, Any], role: Role, start: int
) -> httpx.Response | None:
    """POST to the replicas in turn from ``start`` until one answers (a killed replica refuses connections)."""
    headers = {"Authorization": f"Bearer {cluster.keys[role]}"}
    for offset in range(REPLICAS * 2):
        index = (start + offset) % REPLICAS
        try:
            response = httpx.post(f"{cluster.url(index)}{path}", json=body, headers=headers, timeout=60)
        except httpx.HTTPError:
            continue
        if response.status_code < 500:
            return response
    return None


def drive_triage(cluster: Cluster) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """1,000 triage calls across the replicas, concurrently; replica 0 is SIGKILLed after half of them.
    Returns the acknowledged event ids (with their case) and the pending review items seen."""
    acknowledged: dict[str, str] = {}
    pending_items: list[tuple[str, str]] = []
    lock = threading.Lock()
    done = threading.Semaphore(0)

    def triage(i: int, event: dict[str, Any]) -> None:
        response = post_anywhere(cluster, "/v1/exceptions", event, Role.WORKFLOW, i)
        if response is not None and response.status_code in {200, 201}:
            case = response.json()
            with lock:
                acknowledged[event["event_id"]] = case["case_id"]
                pending_items.extend(
                    (case["case_id"], r["id"])
                    for r in case["recommendations"]
                    if r["status"] == "pending_review"
                )
        done.release()

    def killer() -> None:
        for _ in range(TRIAGE_CALLS // 2):
            done.acquire()
        cluster.processes[0].send_signal(signal.SIGKILL)

    kill_thread = threading.Thread(target=killer)
    kill_thread.start()
    with ThreadPoolExecutor(max_workers=12) as pool:
        list(pool.map(triage, range(TRIAGE_CALLS), events(TRIAGE_CALLS)))
    kill_thread.join(timeout=60)
    return acknowledged, pending_items


def drive_decisions(cluster: Cluster, targets: list[tuple[str, str]]) -> list[int]:
    def decide(i: int, target: tuple[str, str]) -> int:
        body = {"item_id": target[1], "expected_version": 1, "decision": "approve"}
        response = post_anywhere(cluster, f"/v1/cases/{target[0]}/decisions", body, Role.SUPERVISOR, i)
        return response.status_code if response is not None else 0

    with ThreadPoolExecutor(max_workers=12) as pool:
        return list(pool.map(decide, range(len(targets)), targets))


def settle(cluster: Cluster, overdue: int) -> tuple[set[str], list[Any]]:
    """Wait until every event reached the receiver and the overdue items escalated (or 90 s passed)."""
    engine = create_db_engine(cluster.database_url)
    deadline = time.monotonic() + 90
    expected: set[str] = set()
    escalations: list[Any] = []
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            expected = {row[0] for row in connection.execute(text("SELECT event_id FROM events"))}
            escalations = list(
                connection.execute(
                    text(
                        "SELECT item_id, count(*) FROM audit_log WHERE action = 'item.escalated' GROUP BY item_id"
                    )
                ).all()
            )
        if len(escalations) >= overdue and expected <= cluster.receiver.verified:
            break
        time.sleep(1)
    return expected, escalations


def test_three_replicas_stay_correct_when_one_is_killed(cluster: Cluster) -> None:
    acknowledged, pending_items = drive_triage(cluster)
    assert cluster.processes[0].poll() is not None, "the replica was not killed"
    assert len(acknowledged) >= TRIAGE_CALLS * 0.98, (
        f"only {len(acknowledged)} triage calls were acknowledged"
    )

    statuses = drive_decisions(cluster, pending_items[:DECISIONS])
    assert len(statuses) == DECISIONS and statuses.count(201) >= DECISIONS * 0.98, statuses

    engine = create_db_engine(cluster.database_url)
    with engine.begin() as connection:
        stored = dict(
            connection.execute(text("SELECT event_id, count(*) FROM cases GROUP BY event_id")).all()
        )
        connection.execute(
            text(
                "UPDATE items SET review_due_at = now() - interval '1 minute' WHERE item_id IN "
                "(SELECT item_id FROM items WHERE status = 'pending_review' ORDER BY item_id LIMIT 50)"
            )
        )
    assert all(count == 1 for count in stored.values()), "a triage was stored twice"
    assert set(acknowledged) <= set(stored), "an acknowledged triage is missing"

    expected, escalations = settle(cluster, overdue=50)
    assert len(escalations) >= 50 and all(count == 1 for _, count in escalations), "an item escalated twice"
    missing = expected - cluster.receiver.verified
    assert not missing, f"{len(missing)} events never reached the receiver with a valid signature"
    assert cluster.receiver.refused == 0

    verdict = AuditService(create_session_factory(cluster.database_url), cluster.settings).verify()
    assert verdict.ok, verdict
    with engine.connect() as connection:
        count, top = connection.execute(text("SELECT count(*), max(seq) FROM audit_log")).one()
    assert count == top, "the audit chain has a gap"
