"""Micro-batching with the batcher's own encoder thread (the torch backend): every pass runs in that one thread,
callers that arrive while it is busy share the next pass, failures reach their callers, close drains."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from numpy.typing import NDArray

from triage.core.errors import UpstreamUnavailable
from triage.engines.batching import BatchLimits, MicroBatcher


class ThreadRecordingEmbedder:
    """Records each pass and the thread it ran in; the first pass holds the model until ``release``."""

    model_id = "fake"
    dimension = 2

    def __init__(self) -> None:
        self.passes: list[tuple[str, list[str]]] = []
        self.busy = threading.Event()
        self.release = threading.Event()

    def embed(self, texts: list[str]) -> NDArray[np.float32]:
        self.passes.append((threading.current_thread().name, list(texts)))
        if len(self.passes) == 1:
            self.busy.set()
            self.release.wait(5)
        if "bad" in texts:
            raise RuntimeError("encoder broke")
        return np.array([[len(t), ord(t[-1])] for t in texts], dtype=np.float32)


def call_all(batcher: MicroBatcher, texts: list[str]) -> tuple[list[threading.Thread], dict[str, object]]:
    results: dict[str, object] = {}

    def call(text: str) -> None:
        try:
            results[text] = batcher.embed([text])
        except (RuntimeError, UpstreamUnavailable) as exc:
            results[text] = exc

    threads = [threading.Thread(target=call, args=(t,)) for t in texts]
    for thread in threads:
        thread.start()
        time.sleep(0.01)
    return threads, results


def test_every_pass_runs_in_the_encoder_thread_and_waiting_callers_share_one() -> None:
    inner = ThreadRecordingEmbedder()
    batcher = MicroBatcher(inner, BatchLimits(max_batch=8), own_thread=True)
    first, _ = call_all(batcher, ["a"])
    assert inner.busy.wait(5)
    rest, results = call_all(batcher, ["bb", "ccc", "dddd"])
    inner.release.set()
    for thread in first + rest:
        thread.join(5)
    assert [texts for _, texts in inner.passes] == [["a"], ["bb", "ccc", "dddd"]]
    assert {name for name, _ in inner.passes} == {"triage-encoder"}
    for text in ("bb", "ccc", "dddd"):
        assert np.array_equal(results[text], [[len(text), ord(text[-1])]])  # type: ignore[arg-type]
    batcher.close()


def test_a_failed_pass_reaches_its_caller_and_the_encoder_thread_goes_on() -> None:
    inner = ThreadRecordingEmbedder()
    inner.release.set()
    batcher = MicroBatcher(inner, own_thread=True)
    with pytest.raises(RuntimeError, match="encoder broke"):
        batcher.embed(["bad"])
    assert batcher.embed(["good"]).shape == (1, 2)
    batcher.close()
    with pytest.raises(UpstreamUnavailable, match="closed"):
        batcher.embed(["late"])


def test_close_serves_what_is_queued_then_stops_the_encoder_thread() -> None:
    inner = ThreadRecordingEmbedder()
    batcher = MicroBatcher(inner, own_thread=True)
    first, _ = call_all(batcher, ["a"])
    assert inner.busy.wait(5)
    queued, results = call_all(batcher, ["b", "c"])
    batcher.close()
    inner.release.set()
    for thread in first + queued:
        thread.join(5)
    assert set(results) == {"b", "c"} and all(isinstance(v, np.ndarray) for v in results.values())
    assert batcher._runner is not None
    batcher._runner.join(5)
    assert not batcher._runner.is_alive()
