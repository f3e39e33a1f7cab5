"""The audit log as a story in plain language: one sentence per record ("10:42 — test-agent (agent)
approved the customer update after editing it; reason: …"). Pure functions over the records."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from triage.domain.audit.schemas import AuditRecordRead


@dataclass(frozen=True)
class StoryLine:
    record: AuditRecordRead
    who: str
    sentence: str
    reason: str | None


def _words(value: object) -> str:
    return str(value or "").replace("_", " ")


def item_name(key: str | None) -> str:
    """``draft:customer_update`` → ``customer update``; ``recommendation:propose_transfer`` → ``propose transfer``."""
    if not key:
        return "item"
    kind, _, name = key.partition(":")
    return _words(name or kind)


def _details(record: AuditRecordRead) -> dict[str, object]:
    return dict(record.details or {})


Describe = Callable[[AuditRecordRead, str], str]

SENTENCES: dict[str, Describe] = {
    "case.received": lambda r, _: f"received the exception (order {r.order_id})",
    "case.classified": lambda r, _: (
        f"classified it as {_words(_details(r).get('label') or r.outcome)}"
        + (f" ({r.confidence:.0%} sure)" if r.confidence is not None else "")
    ),
    "case.retrieved": lambda r, _: f"found {len(r.neighbour_ids or [])} similar past cases ({r.outcome})",
    "case.drafted": lambda r, _: f"drafted the summary and the customer update ({_words(r.outcome)})",
    "case.gated": lambda r, _: f"gated the case: {_words(r.outcome)}",
    "item.auto_approved": lambda _, item: f"auto-approved the {item}",
    "item.queued_for_review": lambda _, item: f"queued the {item} for review",
    "item.blocked": lambda _, item: f"blocked the {item}",
    "item.shadow": lambda _, item: f"recorded the {item} in shadow mode (nothing acted on)",
    "item.approved": lambda _, item: f"approved the {item}",
    "item.edited": lambda _, item: f"edited the {item}; it waits for a second approver",
    "item.edited_and_approved": lambda _, item: f"approved the {item} after editing it",
    "item.rejected": lambda _, item: f"rejected the {item}",
    "item.decision_refused": lambda r, item: f"was refused a decision on the {item} ({_words(r.outcome)})",
    "item.escalated": lambda r, item: f"escalated the {item} to {_details(r).get('escalated_to')}",
    "review.claimed": lambda _, item: f"claimed the {item}",
    "review.released": lambda _, item: f"released the {item}",
    "review.assigned": lambda r, item: f"assigned the {item} to {r.outcome}",
    "case.relabelled": lambda r, _: (
        f"re-labelled the case from {_words((r.before or {}).get('label'))} to {_words(r.outcome)}"
    ),
    "case.resolved": lambda r, _: f"recorded the outcome: {_words(r.outcome)}",
    "access.denied": lambda r, _: f"was refused: {r.reason or 'access denied'}",
    "desk.signed_in": lambda _, __: "signed in to the desk",
    "desk.signed_out": lambda _, __: "signed out of the desk",
    "policy.reloaded": lambda r, _: f"reloaded the policy ({_words(r.outcome)})",
}


def story(records: Sequence[AuditRecordRead]) -> list[StoryLine]:
    """One sentence per record; items are named by the key their first record gave them."""
    names: dict[str, str] = {}
    lines = []
    for record in records:
        key = _details(record).get("key")
        if record.item_id and isinstance(key, str):
            names.setdefault(record.item_id, item_name(key))
        item = names.get(record.item_id or "", "item")
        describe = SENTENCES.get(record.action)
        sentence = describe(record, item) if describe else _words(record.action.replace(".", " "))
        who = (
            "the service"
            if record.actor_role == "system"
            else f"{record.actor_subject} ({record.actor_role})"
        )
        reason = None if record.action == "access.denied" else record.reason
        lines.append(StoryLine(record=record, who=who, sentence=sentence, reason=reason))
    return lines
