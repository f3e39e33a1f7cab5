"""What the case page shows, built from the services' answers: plain data for the template, no I/O.

Findings are highlighted in place by cutting a draft's text into segments at each finding's offsets; the
timeline turns the case's record (triage, decisions, resolution) into sentences a reviewer reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from triage.core.vocabulary import Decision, ItemStatus
from triage.domain.cases.schemas import DraftRead, FindingRead, TriageCase
from triage.domain.reviews.schemas import ReviewItemRead

DRAFT_NAMES = {"summary": "internal summary", "customer_update": "customer update"}
DECISION_WORDS = {
    Decision.APPROVE: "approved",
    Decision.REJECT: "rejected",
    Decision.EDIT_AND_APPROVE: "edited and approved",
}


@dataclass(frozen=True)
class Segment:
    """A run of a draft's text: plain, or the span a finding points at (numbered as in the findings list)."""

    text: str
    finding: int | None = None
    severity: str | None = None
    message: str | None = None


def _span(text: str, finding: FindingRead, taken_until: int) -> tuple[int, int] | None:
    """Where ``finding`` sits in ``text``: its offsets when they still point at its span, else its first
    occurrence after the previous finding."""
    start, end = finding.start, finding.end
    if (
        start is not None
        and end is not None
        and taken_until <= start < end <= len(text)
        and (not finding.span or text[start:end] == finding.span)
    ):
        return start, end
    if not finding.span:
        return None
    found = text.find(finding.span, taken_until)
    return (found, found + len(finding.span)) if found >= 0 else None


def highlight(text: str, findings: Sequence[FindingRead]) -> list[Segment]:
    """``text`` cut into segments, each finding's span marked (overlapping spans: the first one wins)."""
    located = [(finding, number) for number, finding in enumerate(findings, start=1)]
    ordered = sorted(located, key=lambda pair: pair[0].start if pair[0].start is not None else len(text))
    segments: list[Segment] = []
    at = 0
    for finding, number in ordered:
        where = _span(text, finding, at)
        if where is None:
            continue
        start, end = where
        if start > at:
            segments.append(Segment(text[at:start]))
        segments.append(Segment(text[start:end], number, finding.severity, finding.message))
        at = end
    if at < len(text) or not segments:
        segments.append(Segment(text[at:]))
    return segments


def findings_of(raw: Iterable[dict[str, Any]] | Iterable[FindingRead]) -> list[FindingRead]:
    return [f if isinstance(f, FindingRead) else FindingRead.model_validate(f) for f in raw]


@dataclass(frozen=True)
class DraftView:
    """One draft as the page shows it: the current text with its findings, and the item to decide, if any."""

    name: str
    title: str
    item_id: str | None
    status: str
    generator: str
    text: str
    segments: list[Segment]
    findings: list[FindingRead]
    requires_role: str | None
    pending: ReviewItemRead | None
    """The queue's view of the item when the caller may decide it now (its version, claim, edit)."""


def draft_views(case: TriageCase, decidable: dict[str, ReviewItemRead]) -> list[DraftView]:
    if case.drafts is None:
        return []
    views = []
    for name, draft in (("summary", case.drafts.summary), ("customer_update", case.drafts.customer_update)):
        views.append(_draft_view(name, draft, decidable.get(draft.item_id or "")))
    return views


def _draft_view(name: str, draft: DraftRead, pending: ReviewItemRead | None) -> DraftView:
    text, findings = draft.text, list(draft.findings)
    if pending is not None:
        # An edit waiting for a second approver: its text and the findings of that text.
        text = pending.edited_text or pending.text or text
        findings = findings_of(pending.findings)
    return DraftView(
        name=name,
        title=DRAFT_NAMES.get(name, name),
        item_id=draft.item_id,
        status=str(draft.status),
        generator=draft.generator,
        text=text,
        segments=highlight(text, findings),
        findings=findings,
        requires_role=draft.requires_role,
        pending=pending,
    )


@dataclass(frozen=True)
class Moment:
    """One line of the case's timeline."""

    at: datetime | None
    who: str
    what: str
    reason: str | None = None
    tags: list[str] = field(default_factory=list)


def timeline(case: TriageCase, item_names: dict[str, str]) -> list[Moment]:
    """The case's story, oldest first: triage, each human decision, the resolution."""
    classification = case.classification
    triaged = (
        f"triaged it as {classification.label.replace('_', ' ')} ({classification.confidence:.1%} sure); "
        f"the gate said {case.gate.decision.value.replace('_', ' ')}"
    )
    moments = [Moment(case.created_at, "the service", triaged, tags=list(case.degraded))]
    for decision in case.decisions:
        what = f"{DECISION_WORDS.get(decision.decision, decision.decision)} the {item_names.get(decision.item_id, 'item')}"
        if decision.label_override:
            what += f" and corrected the category to {decision.label_override.replace('_', ' ')}"
        moments.append(Moment(decision.at, f"{decision.decided_by} ({decision.role})", what, decision.reason))
    if case.resolution is not None:
        resolution = case.resolution
        moments.append(
            Moment(
                resolution.resolved_at,
                resolution.resolved_by,
                f"recorded the outcome: {resolution.outcome.replace('_', ' ')} "
                f"({resolution.resolution_action.replace('_', ' ')})",
                resolution.resolution,
            )
        )
    return sorted(moments, key=lambda m: (m.at is None, m.at))


def item_names(case: TriageCase) -> dict[str, str]:
    """Each item id of the case → how a person names it (``the customer update``, ``propose transfer``)."""
    names = {rec.id: rec.action.replace("_", " ") for rec in case.recommendations}
    if case.drafts is not None:
        for name, draft in (
            ("summary", case.drafts.summary),
            ("customer_update", case.drafts.customer_update),
        ):
            if draft.item_id:
                names[draft.item_id] = DRAFT_NAMES[name]
    return names


def pending_items(case: TriageCase) -> list[str]:
    """The ids of the case's items that wait for a human."""
    ids = [rec.id for rec in case.recommendations if rec.status == ItemStatus.PENDING_REVIEW]
    if case.drafts is not None:
        for draft in (case.drafts.summary, case.drafts.customer_update):
            if draft.status == ItemStatus.PENDING_REVIEW and draft.item_id:
                ids.append(draft.item_id)
    return ids
