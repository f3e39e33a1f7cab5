"""The serving slot: a swap is one reference change, the replaced collection closes only after its grace period,
and an open collection is reused rather than opened twice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from triage.domain.cases.history import CaseStoreConnection
from triage.domain.models.slot import ModelSlot, ServingModel


@dataclass
class FakeStore:
    closed: bool = False

    def close(self) -> None:
        self.closed = True


@dataclass(frozen=True)
class FakeClassifier:
    version: str


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def serving(version: str, collection: str) -> tuple[ServingModel, FakeStore]:
    store = FakeStore()
    connection = CaseStoreConnection(lambda: cast(Any, store), collection=collection)
    assert connection.reconnect()
    return ServingModel(version, cast(Any, FakeClassifier(version)), connection, collection), store


def test_a_swap_keeps_the_old_collection_open_for_its_grace_period() -> None:
    clock = Clock()
    first, first_store = serving("a", "case_history")
    slot = ModelSlot(first, grace_s=30, clock=clock)
    held = slot.current  # a request in flight holds this
    second, _ = serving("b", "case_history_b")
    assert slot.swap(second) is first
    assert slot.current is second and held is first
    assert slot.close_retired() == 0 and not first_store.closed
    clock.now = 31
    assert slot.close_retired() == 1 and first_store.closed


def test_an_open_collection_is_reused() -> None:
    first, store = serving("a", "case_history")
    slot = ModelSlot(first, grace_s=30, clock=Clock())
    assert slot.connection_for("case_history") is first.connection
    second, _ = serving("b", "case_history_b")
    slot.swap(second)
    # a rollback to the first collection takes its connection back from the retired ones
    assert slot.connection_for("case_history") is first.connection
    assert slot.close_retired(everything=True) == 0 and not store.closed
    assert slot.connection_for("elsewhere") is None
