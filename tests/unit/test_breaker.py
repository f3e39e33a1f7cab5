"""The circuit breaker: closed → open after N consecutive failures → one half-open probe → closed or open."""

from __future__ import annotations

import threading

import pytest

from triage.engines.drafting.breaker import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def state(breaker: CircuitBreaker) -> str:
    return breaker.state


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_opens_after_n_consecutive_failures(clock: Clock) -> None:
    breaker = CircuitBreaker(3, 10.0, clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure()
    assert state(breaker) == "closed"
    breaker.record_failure()
    assert state(breaker) == "open"
    assert not breaker.allow()
    assert breaker.snapshot()["consecutive_failures"] == 3


def test_a_success_resets_the_count(clock: Clock) -> None:
    breaker = CircuitBreaker(2, 10.0, clock)
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert state(breaker) == "closed"


def test_half_open_lets_exactly_one_probe_through(clock: Clock) -> None:
    breaker = CircuitBreaker(1, 10.0, clock)
    breaker.record_failure()
    clock.now += 9.9
    assert not breaker.allow()
    clock.now += 0.2
    assert state(breaker) == "half_open"
    assert breaker.allow()
    assert not breaker.allow()  # a second caller during the probe is rejected
    breaker.record_success()
    assert state(breaker) == "closed" and breaker.allow()


def test_a_failed_probe_reopens_for_a_new_cooldown(clock: Clock) -> None:
    breaker = CircuitBreaker(3, 10.0, clock)
    for _ in range(3):
        breaker.record_failure()
    clock.now += 10
    assert breaker.allow()
    breaker.record_failure()
    assert state(breaker) == "open"
    snap = breaker.snapshot()
    assert snap["llm"] == "open" and snap["retry_in_s"] == 10.0 and snap["opened_total"] == 2


def test_released_probe_slot_can_be_taken_again(clock: Clock) -> None:
    breaker = CircuitBreaker(1, 1.0, clock)
    breaker.record_failure()
    clock.now += 1
    assert breaker.allow()
    breaker.release()
    assert breaker.allow()


def test_thread_safety_under_concurrent_failures(clock: Clock) -> None:
    breaker = CircuitBreaker(1000, 10.0, clock)

    def hammer() -> None:
        for _ in range(250):
            breaker.allow()
            breaker.record_failure()

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert breaker.snapshot()["consecutive_failures"] == 2000
    assert state(breaker) == "open"


def test_rejects_nonsense_settings() -> None:
    with pytest.raises(ValueError, match="failures"):
        CircuitBreaker(0, 1.0)
