"""``triage serve``'s server options on a real uvicorn on loopback: slow or stalled requests get 408 and are
closed; X-Forwarded-For counts only from trusted proxies; log records are single JSON lines."""

from __future__ import annotations

import json
import logging
import logging.config
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from triage.config import Settings
from triage.serving import log_config, protocol_for, uvicorn_options

READ_TIMEOUT_S = 0.6


async def echo_client(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A tiny ASGI app: reads the whole body, answers with the client address the server saw."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    body = json.dumps({"client": scope["client"][0]}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


@contextmanager
def server(tmp_path: Any, **settings: Any) -> Iterator[int]:
    configured = Settings(home=tmp_path, request_read_timeout_s=READ_TIMEOUT_S, **settings)
    options = uvicorn_options(configured) | {"http": protocol_for(configured)}
    options.pop("log_config")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(echo_client, host="127.0.0.1", port=port, log_level="warning", **options)
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not instance.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert instance.started, "uvicorn did not start"
    try:
        yield port
    finally:
        instance.should_exit = True
        thread.join(timeout=10)


def exchange(port: int, data: bytes, wait_s: float = 5.0) -> tuple[bytes, float]:
    """Send ``data``, then read until the server closes; the bytes read and how long the close took."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as sock:
        sock.sendall(data)
        started = time.monotonic()
        received = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return received, time.monotonic() - started
            received += chunk


def test_partial_headers_get_408_and_the_connection_closes(tmp_path: Any) -> None:
    with server(tmp_path) as port:
        answer, took = exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert took < READ_TIMEOUT_S + 1.5


def test_a_body_that_stops_arriving_gets_408(tmp_path: Any) -> None:
    with server(tmp_path) as port:
        answer, took = exchange(port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert took < READ_TIMEOUT_S + 1.5


def test_whole_requests_are_served_also_on_a_kept_alive_connection(tmp_path: Any) -> None:
    request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    with server(tmp_path) as port, socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        for _ in range(2):
            sock.sendall(request)
            answer = b""
            while not answer.endswith(b"}"):
                answer += sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200"), answer
            time.sleep(READ_TIMEOUT_S / 3)


def seen_client(port: int, forwarded: str) -> str:
    request = f"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: {forwarded}\r\nConnection: close\r\n\r\n"
    answer, _ = exchange(port, request.encode())
    return str(json.loads(answer.split(b"\r\n\r\n", 1)[1])["client"])


def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(tmp_path: Any) -> None:
    with server(tmp_path) as port:
        assert seen_client(port, "203.0.113.9") == "127.0.0.1"
    with server(tmp_path, trusted_proxies=["127.0.0.1/32"]) as port:
        assert seen_client(port, "203.0.113.9") == "203.0.113.9"


def test_log_records_are_one_json_line_each(capsys: Any) -> None:
    config = log_config()
    config["handlers"]["stderr"]["stream"] = "ext://sys.stdout"
    logging.config.dictConfig(config)
    try:
        logging.getLogger("triage").warning("not found: %s", "/v1/cases/x\nINFO forged line")
    finally:
        logging.config.dictConfig({"version": 1, "disable_existing_loggers": False})
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["message"] == "not found: /v1/cases/x\nINFO forged line"
    assert record["levelname"] == "WARNING"
