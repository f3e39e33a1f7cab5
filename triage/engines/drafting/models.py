"""The value types of the drafting engine and its port, ``Drafter``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from triage.core.events import ExceptionEvent

Audience = Literal["customer", "internal"]
Generator = Literal["llm", "template", "template-fallback"]
DraftKind = Literal["summary", "customer_update"]


@dataclass(frozen=True)
class NeighbourFacts:
    """What a similar past case contributes to a draft: its label and how it was resolved."""

    case_id: str
    label: str
    resolution_action: str | None
    resolution: str
    outcome: str | None
    hours_to_resolve: float | None


@dataclass(frozen=True)
class DraftContext:
    """Everything a drafter may use: the event, its classification and the neighbours' resolutions."""

    event: ExceptionEvent
    label: str
    confidence: float
    abstained: bool
    severity: str
    owner_team: str
    neighbours: list[NeighbourFacts] = field(default_factory=list)
    predicted_action: str | None = None
    started_at: float | None = None
    """``loop.time()`` when the triage call began: the LLM deadline counts from there, so the whole call, not
    just its drafting, stays within the LLM timeout plus the work after drafting. ``None``: from now."""


@dataclass(frozen=True)
class Finding:
    """One fact-check problem in a draft; ``span`` is the offending text, ``start``/``end`` its offsets."""

    check: str
    severity: Literal["error", "warning"]
    span: str
    message: str
    start: int | None = None
    end: int | None = None


@dataclass(frozen=True)
class Draft:
    kind: DraftKind
    text: str
    generator: Generator
    findings: list[Finding]
    prompt: str
    """``name@version`` of the prompt or template that produced the text."""


@dataclass(frozen=True)
class DraftSet:
    summary: Draft
    customer_update: Draft
    degraded: list[str] = field(default_factory=list)
    """``["llm"]`` when an LLM is configured but did not produce both drafts."""
    error: str | None = None
    """Why the LLM was not used, when it was not."""


class Drafter(Protocol):
    """Writes the internal summary and the customer update of a case, fact-checked."""

    prompts_version: str

    async def draft(self, ctx: DraftContext) -> DraftSet:
        """Never raises for LLM faults; returns within the LLM deadline plus a small overhead."""
        ...

    def check(self, ctx: DraftContext, kind: DraftKind, text: str) -> list[Finding]:
        """The fact-check findings of ``text`` (e.g. a human edit) written as ``kind`` for this case."""
        ...

    def health(self) -> dict[str, object]:
        """State for ``/ready`` and ``/metrics``: ``{"llm": "disabled"|"closed"|"open"|"half_open", ...}``."""
        ...
