"""Micro-batching: concurrent callers share encoder passes, each gets its own rows, a full queue refuses at once."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from numpy.typing import NDArray

from triage.core.errors import UpstreamUnavailable
from triage.engines.batching import BatchLimits, EncoderBusy, MicroBatcher
from triage.engines.stages import clock_for_request


class SlowEmbedder:
    """Records each pass; the first one holds the model until ``release`` is set."""

    model_id = "fake"
    dimension = 2

    def __init__(self) -> None:
        self.passes: list[list[str]] = []
        self.busy = threading.Event()
        self.release = threading.Event()
        self.fail_on: str | None = None

    def embed(self, texts: list[str]) -> NDArray[np.float32]:
        self.passes.append(list(texts))
        if len(self.passes) == 1:
            self.busy.set()
            self.release.wait(5)
        if self.fail_on in texts:
            raise RuntimeError("encoder broke")
        return np.array([[len(t), ord(t[-1])] for t in texts], dtype=np.float32)


class Observer:
    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.refused = 0

    def batch(self, texts: int, seconds: float) -> None:
        self.sizes.append(texts)

    def rejected(self) -> None:
        self.refused += 1


class Callers:
    """One thread per text, started in order (arrival order is queue order); ``results`` once joined."""

    def __init__(self, batcher: MicroBatcher, texts: list[str]) -> None:
        self.results: dict[str, NDArray[np.float32] | BaseException] = {}
        self.threads = [threading.Thread(target=self._call, args=(batcher, t)) for t in texts]
        for thread in self.threads:
            thread.start()
            time.sleep(0.01)

    def _call(self, batcher: MicroBatcher, text: str) -> None:
        try:
            self.results[text] = batcher.embed([text])
        except UpstreamUnavailable as exc:
            self.results[text] = exc

    def join(self) -> dict[str, NDArray[np.float32] | BaseException]:
        for thread in self.threads:
            thread.join(5)
        return self.results


def test_callers_arriving_while_the_model_is_busy_share_one_pass_and_get_their_own_rows() -> None:
    inner, observer = SlowEmbedder(), Observer()
    batcher = MicroBatcher(inner, BatchLimits(max_batch=8), observer=observer)
    first = Callers(batcher, ["a"])
    assert inner.busy.wait(5)
    rest = Callers(batcher, ["bb", "ccc", "dddd"])
    inner.release.set()
    first.join()
    results = rest.join()
    assert inner.passes == [["a"], ["bb", "ccc", "dddd"]]
    assert observer.sizes == [1, 3]
    for text in ("bb", "ccc", "dddd"):
        assert np.array_equal(results[text], inner.embed([text]))  # type: ignore[arg-type]
    batcher.close()


def test_a_batch_stops_at_the_size_and_token_limits() -> None:
    inner = SlowEmbedder()
    batcher = MicroBatcher(inner, BatchLimits(max_batch=2, max_tokens=1000), count_tokens=len)
    first = Callers(batcher, ["x"])
    assert inner.busy.wait(5)
    rest = Callers(batcher, ["a", "b", "c"])
    inner.release.set()
    first.join()
    rest.join()
    assert inner.passes[1:] == [["a", "b"], ["c"]]
    batcher.close()

    tokens = SlowEmbedder()
    tight = MicroBatcher(tokens, BatchLimits(max_batch=8, max_tokens=10), count_tokens=len)
    first = Callers(tight, ["x"])
    assert tokens.busy.wait(5)
    rest = Callers(tight, ["aaaa", "bbbb", "cccc"])  # two texts of 4 tokens pad to 8, three to 12
    tokens.release.set()
    first.join()
    rest.join()
    assert tokens.passes[1:] == [["aaaa", "bbbb"], ["cccc"]]
    tight.close()


def test_a_full_queue_refuses_at_once_with_a_retry_hint() -> None:
    inner, observer = SlowEmbedder(), Observer()
    batcher = MicroBatcher(inner, BatchLimits(max_queue=2), observer=observer)
    first = Callers(batcher, ["a"])
    assert inner.busy.wait(5)
    queued = Callers(batcher, ["b", "c"])
    started = time.perf_counter()
    with pytest.raises(EncoderBusy) as refused:
        batcher.embed(["d"])
    assert time.perf_counter() - started < 0.5
    assert refused.value.status_code == 503 and refused.value.extra["retry_after"] >= 1
    assert observer.refused == 1 and batcher.waiting == 2
    inner.release.set()
    first.join()
    queued.join()
    assert batcher.embed(["e"]).shape == (1, 2)  # room again once the queue drained
    batcher.close()


def test_an_encoder_failure_reaches_every_caller_of_its_pass_and_the_next_pass_works() -> None:
    inner = SlowEmbedder()
    inner.release.set()
    inner.fail_on = "bad"
    batcher = MicroBatcher(inner)
    with pytest.raises(RuntimeError, match="encoder broke"):
        batcher.embed(["bad"])
    assert batcher.embed(["good"]).shape == (1, 2)
    batcher.close()
    with pytest.raises(UpstreamUnavailable, match="closed"):
        batcher.embed(["late"])


def test_bulk_calls_bypass_the_queue_and_time_is_recorded_as_embed() -> None:
    inner = SlowEmbedder()
    inner.release.set()
    batcher = MicroBatcher(inner, BatchLimits(max_batch=2))
    with clock_for_request() as clock:
        vectors = batcher.embed(["a", "bb", "ccc"])
    assert vectors.shape == (3, 2) and inner.passes == [["a", "bb", "ccc"]]
    assert clock.get("embed") > 0
    assert batcher.embed([]).shape == (0, 2)
    batcher.close()
