"""``ModelFollower``: a serving process follows the registry's pointer and swaps the model without a restart.

Run periodically (``background_jobs``). When the pointer names another version, its artifact is loaded and its
collection opened here, off the request path; only then is the slot swapped, in one step. A version that cannot
be loaded (corrupt, truncated, foreign) leaves the model in force serving, is logged, and shows on ``/ready``;
it is not tried again until the pointer changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from triage.core.errors import TriageError
from triage.domain.models.schemas import ModelVersionRead
from triage.domain.models.services import ModelRegistry
from triage.domain.models.slot import ModelSlot, ServingModel

log = logging.getLogger("triage")

ServingLoader = Callable[[ModelVersionRead, ModelSlot], ServingModel]
"""Loads a version for serving: its classifier, and a connection to its collection (reused when open)."""


class ModelFollower:
    def __init__(self, registry: ModelRegistry, slot: ModelSlot, load: ServingLoader) -> None:
        self.registry = registry
        self.slot = slot
        self.load = load
        self._refused: tuple[int, str] | None = None

    def follow(self) -> bool:
        """Swap to the version the pointer names, if it is not the one served; True when it swapped."""
        self.slot.close_retired()
        pointer = self.registry.pointer()
        current = self.slot.current
        if pointer.active_id is None or pointer.active_id == current.version_id:
            if current.generation != pointer.generation and pointer.active_id is not None:
                self.slot.swap_generation(pointer.generation)
            if pointer.active_id is not None:  # the pointer names what is served: an old refusal is over
                self.slot.error = None
                self._refused = None
            return False
        if self._refused == (pointer.generation, pointer.active_id):
            return False
        version = self.registry.get(pointer.active_id)
        try:
            serving = self.load(version, self.slot)
        except Exception as exc:  # noqa: BLE001 - any failure to load leaves the model in force, said on /ready
            detail = exc.detail if isinstance(exc, TriageError) else f"{type(exc).__name__}: {exc}"
            self._refused = (pointer.generation, pointer.active_id)
            self.slot.error = (
                f"model {version.id} could not be loaded, {current.version_id} stays in force: {detail}"
            )
            log.error("%s", self.slot.error)
            return False
        self.slot.swap(replace(serving, generation=pointer.generation))
        return True
