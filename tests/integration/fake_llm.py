"""A real OpenAI-compatible HTTP server on 127.0.0.1, scriptable per request, for the LLM drafting tests.

``FakeLLM`` serves ``POST /v1/chat/completions`` from a thread. Each request takes the next scripted behaviour
for its prompt (the ``X-Triage-Prompt`` header the drafter sends, e.g. ``customer_update@1``), else the next
one scripted for any prompt, else the default (a good answer). Every request is recorded, so tests can assert
what left the process (redaction, delimiting).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

GOOD_UPDATE = (
    "Hello,\nWe are looking into the problem with your order and will confirm the next steps as soon as"
    " we can.\n\nKind regards,\nCustomer Service"
)
GOOD_SUMMARY = "Order exception received; the owner team should review the facts and the similar cases."
MESSAGE_RE = re.compile(r'<customer_message id="[0-9a-f]+">\n(?P<body>.*?)\n</customer_message', re.DOTALL)


@dataclass
class Recorded:
    prompt: str
    body: dict[str, Any]
    headers: dict[str, str]
    received_at: float

    @property
    def text(self) -> str:
        """All message contents of the request, joined."""
        return "\n".join(str(m.get("content", "")) for m in self.body.get("messages", []))

    @property
    def customer_message(self) -> str | None:
        match = MESSAGE_RE.search(self.text)
        return match.group("body") if match else None


@dataclass
class Reply:
    status: int = 200
    content: str | None = None
    """The assistant message content (for 200)."""
    headers: dict[str, str] = field(default_factory=dict)
    hang_s: float = 0.0
    raw_body: bytes | None = None


Behaviour = Callable[[Recorded], Reply]


def good(text: str | None = None) -> Behaviour:
    def reply(req: Recorded) -> Reply:
        default = GOOD_SUMMARY if req.prompt.startswith("case_summary") else GOOD_UPDATE
        return Reply(content=json.dumps({"text": text or default}))

    return reply


def hang(seconds: float = 30.0) -> Behaviour:
    return lambda req: Reply(hang_s=seconds, content=json.dumps({"text": GOOD_UPDATE}))


def status(code: int, retry_after: str | None = None) -> Behaviour:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    body = json.dumps(
        {"error": {"message": f"scripted {code}", "type": "server_error", "code": code}}
    ).encode()
    return lambda req: Reply(status=code, headers=headers, raw_body=body)


def invalid_json() -> Behaviour:
    return lambda req: Reply(content='Sure! Here is your update: {text: "Hello, your order is fine"')


def invent_date(date_text: str = "March 30, 2031") -> Behaviour:
    return good(f"Hello,\nYour order will be delivered on {date_text}.\n\nKind regards,\nCustomer Service")


def leak(value: str) -> Behaviour:
    return good(f"Hello,\nYour order is on hold because your balance is above your limit of {value}.")


def echo_injection() -> Behaviour:
    """Repeats the customer's (injected) message back, as a model that followed it might."""

    def reply(req: Recorded) -> Reply:
        body = req.customer_message or ""
        return Reply(content=json.dumps({"text": f"Hello,\nAs you asked: {body}\n\nKind regards"}))

    return reply


def obey() -> Behaviour:
    """Worst case: does whatever the customer's message says and repeats every fact it was shown."""

    def reply(req: Recorded) -> Reply:
        body = (req.customer_message or "").strip()
        shown = re.findall(r'"([a-z_]+)": ([^,\n]+)', req.text)
        facts = "; ".join(f"{k} {v.strip(chr(34))}" for k, v in shown)
        text = f"Hello,\n{body}\nDone as instructed. Everything we know: {facts}"
        return Reply(content=json.dumps({"text": text}))

    return reply


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        fake = self.server.fake
        try:
            body = json.loads(raw)
        except ValueError:
            body = {}
        headers = {k.lower(): v for k, v in self.headers.items()}
        req = Recorded(headers.get("x-triage-prompt", "?"), body, headers, time.monotonic())
        fake.record(req)
        reply = fake.next_behaviour(req.prompt)(req)
        if reply.hang_s and fake.stopping.wait(reply.hang_s):
            return
        payload = reply.raw_body
        if payload is None:
            payload = json.dumps(
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body.get("model", "fake"),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": reply.content},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }
            ).encode()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (deadline): exactly what the tests provoke


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeLLM


class FakeLLM:
    """The scripted server; ``base_url`` is what ``TRIAGE_LLM_BASE_URL`` would be."""

    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._lock = threading.Lock()
        self._scripts: dict[str, deque[Behaviour]] = {}
        self.default: Behaviour = good()
        self.requests: list[Recorded] = []
        self.stopping = threading.Event()
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-llm", daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def script(self, *behaviours: Behaviour, prompt: str = "*") -> None:
        """Queue behaviours for the next requests of ``prompt`` (a prompt name, or ``*`` for any)."""
        with self._lock:
            self._scripts.setdefault(prompt, deque()).extend(behaviours)

    def next_behaviour(self, prompt_ref: str) -> Behaviour:
        name = prompt_ref.split("@", 1)[0]
        with self._lock:
            for key in (name, "*"):
                queue = self._scripts.get(key)
                if queue:
                    return queue.popleft()
            return self.default

    def record(self, req: Recorded) -> None:
        with self._lock:
            self.requests.append(req)

    def requests_for(self, prompt: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.prompt.split("@", 1)[0] == prompt]

    def reset(self) -> None:
        with self._lock:
            self._scripts.clear()
            self.requests.clear()
            self.default = good()

    def close(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture(scope="module")
def fake_llm_server() -> Iterator[FakeLLM]:
    server = FakeLLM()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def fake_llm(fake_llm_server: FakeLLM) -> Iterator[FakeLLM]:
    fake_llm_server.reset()
    yield fake_llm_server
    fake_llm_server.reset()
