"""Micro-batching: concurrent callers share encoder passes.

``MicroBatcher`` is an ``Embedder`` in front of another one. Callers queue their texts; when the model is free,
one of them (a leader) takes whatever is waiting (up to ``max_batch`` texts and ``max_tokens`` padded tokens),
runs one pass in its own thread and hands each caller its rows; when it is done, one of the callers still
waiting leads the next pass. There is no fixed wait by default (``max_wait_s`` 0): a lone request is encoded at
once, in its own thread (no hand-off to another thread, which on a busy machine costs a wait for a core), and
batches form only when requests arrive while the model is busy. The
queue is bounded: past ``max_queue`` waiting texts a call fails at once with ``EncoderBusy`` (503 with
``retry_after``) instead of letting every request's latency grow.

With ``own_thread`` the passes run in one thread of the batcher's instead (callers hand their texts over and
wait): torch keeps per-thread state (MKL's buffers and the allocator's, 1-5 MB resident per thread that ever
ran a pass), so with the server's 48 worker threads each leading a pass now and then, a torch worker's peak
at c=32 was 986 MB against 838-862 MB with one encoder thread. The hand-off costs two thread wake-ups per
pass: a few milliseconds on a machine loaded past its cores, against a 15-30 ms torch pass.

Batching saves little compute per text on CPU (a MiniLM pass is compute-bound); what it buys is one model run at
a time with the cores it was given (see ``configure_threads``), instead of several runs fighting over them.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from triage.core.errors import UpstreamUnavailable
from triage.engines.stages import record

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from triage.engines.embedder import Embedder

RETRY_AFTER_S = 1


class EncoderBusy(UpstreamUnavailable):
    """The encoder queue is full: the caller should retry after ``extra["retry_after"]`` seconds."""

    title = "Service overloaded"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, extra={"retry_after": RETRY_AFTER_S})


class BatchObserver(Protocol):
    """Told about every pass and every refusal (the service's metrics)."""

    def batch(self, texts: int, seconds: float) -> None: ...

    def rejected(self) -> None: ...


@dataclass
class _Request:
    texts: list[str]
    tokens: int
    done: threading.Event = field(default_factory=threading.Event)
    vectors: NDArray[np.float32] | None = None
    error: BaseException | None = None


@dataclass(frozen=True)
class BatchLimits:
    """How big one shared pass may get, and how many texts may wait for one."""

    max_batch: int = 32
    max_tokens: int = 8192
    """Padded tokens of one pass (texts x the longest text's tokens)."""
    max_queue: int = 256
    max_wait_s: float = 0.0
    """How long the encoder thread waits for more texts once one arrived (0: not at all)."""


def estimate_tokens(text: str) -> int:
    """A cheap stand-in for the tokenizer: about four characters per word-piece, plus [CLS] and [SEP]."""
    return len(text) // 4 + 2


class MicroBatcher:
    """An ``Embedder`` whose concurrent callers share passes of ``inner`` (one pass at a time)."""

    def __init__(
        self,
        inner: Embedder,
        limits: BatchLimits | None = None,
        *,
        count_tokens: Callable[[str], int] = estimate_tokens,
        observer: BatchObserver | None = None,
        own_thread: bool = False,
    ) -> None:
        """``own_thread``: run every pass in one thread of the batcher's (see the module docstring)."""
        self.inner = inner
        self.model_id = inner.model_id
        self.dimension = inner.dimension
        self.limits = limits or BatchLimits()
        self.rejected = 0
        self._count_tokens = count_tokens
        self._observer = observer
        self._queue: deque[_Request] = deque()
        self._waiting = 0
        self._closed = False
        self._busy = False
        self._cond = threading.Condition()
        self._runner: threading.Thread | None = None
        if own_thread:
            self._runner = threading.Thread(target=self._serve, name="triage-encoder", daemon=True)
            self._runner.start()

    @property
    def waiting(self) -> int:
        """Texts queued for the next passes."""
        with self._cond:
            return self._waiting

    def embed(self, texts: list[str]) -> NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        started = time.perf_counter()
        try:
            if len(texts) > self.limits.max_batch:
                return self.inner.embed(texts)  # bulk work (indexing, evaluation) is a batch already
            return self._queued(texts)
        finally:
            record("embed", time.perf_counter() - started)

    def _queued(self, texts: list[str]) -> NDArray[np.float32]:
        request = _Request(list(texts), max(self._count_tokens(t) for t in texts))
        with self._cond:
            self._admit(request)
            if self._runner is not None:
                self._cond.notify_all()
        if self._runner is not None:
            request.done.wait()
        while not request.done.is_set():
            with self._cond:
                while not request.done.is_set() and self._busy:
                    self._cond.wait()
                if request.done.is_set():
                    break
                self._busy = True  # the model is free: this caller runs the next pass, its own text in it
                batch = self._take()
            self._run_claimed(batch)  # the served callers return; one still waiting leads the next pass
        if request.error is not None:
            raise request.error
        assert request.vectors is not None
        return request.vectors

    def _serve(self) -> None:
        """The batcher's own thread: passes over whatever waits, until closed and drained."""
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue:
                    return
                self._busy = True
                batch = self._take()
            self._run_claimed(batch)

    def _run_claimed(self, batch: list[_Request]) -> None:
        try:
            self._run(batch)
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def _admit(self, request: _Request) -> None:
        if self._closed:
            raise UpstreamUnavailable("the encoder is closed")
        if self._waiting + len(request.texts) > self.limits.max_queue:
            self.rejected += 1
            if self._observer is not None:
                self._observer.rejected()
            raise EncoderBusy(
                f"{self._waiting} texts are waiting for the encoder (limit {self.limits.max_queue}); "
                f"retry in {RETRY_AFTER_S} s"
            )
        self._queue.append(request)
        self._waiting += len(request.texts)

    def _take(self) -> list[_Request]:
        """The next batch (the lock held): queued requests in arrival order, within the size and token limits."""
        limits = self.limits
        if limits.max_wait_s > 0 and self._waiting < limits.max_batch:
            self._cond.wait(limits.max_wait_s)  # the model stays claimed; arrivals queue meanwhile
        batch: list[_Request] = []
        texts = longest = 0
        while self._queue:
            head = self._queue[0]
            grown = texts + len(head.texts)
            padded = grown * max(longest, head.tokens)
            if batch and (grown > limits.max_batch or padded > limits.max_tokens):
                break
            batch.append(self._queue.popleft())
            texts, longest = grown, max(longest, head.tokens)
        self._waiting -= texts
        return batch

    def _run(self, batch: list[_Request]) -> None:
        texts = [text for request in batch for text in request.texts]
        started = time.perf_counter()
        try:
            vectors = self.inner.embed(texts)
        except Exception as exc:  # noqa: BLE001 - not hidden: every caller in the pass raises it
            for request in batch:
                request.error = exc
                request.done.set()
            return
        if self._observer is not None:
            self._observer.batch(len(texts), time.perf_counter() - started)
        start = 0
        for request in batch:
            request.vectors = vectors[start : start + len(request.texts)]
            start += len(request.texts)
            request.done.set()

    def close(self) -> None:
        """Refuse later calls (``UpstreamUnavailable``); calls already queued are still served."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
