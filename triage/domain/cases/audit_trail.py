"""The audit records of one triage: received, classified, retrieved, drafted, gated, and one per item.

Together they reconstruct the decision: the input's hash, the model, prompt and policy versions, the
confidence against the threshold, the neighbours used as evidence, and every rule that decided each item.
"""

from __future__ import annotations

from typing import Any

from triage.core.vocabulary import ItemStatus
from triage.domain.audit.schemas import AuditEntryCreate
from triage.domain.cases.records import ItemRecord, TriageRecord

ITEM_ACTIONS = {
    ItemStatus.AUTO_APPROVED: "item.auto_approved",
    ItemStatus.PENDING_REVIEW: "item.queued_for_review",
    ItemStatus.BLOCKED: "item.blocked",
    ItemStatus.SHADOW: "item.shadow",
}


def creation_entries(record: TriageRecord) -> list[AuditEntryCreate]:
    """Every audit record of one triage, in the pipeline's order."""
    versions = record.case.versions
    common: dict[str, Any] = {
        "actor": record.actor,
        "case_id": record.case.case_id,
        "order_id": record.event.order.order_id,
        "model_version": versions.model,
        "prompt_version": versions.prompts,
        "policy_version": versions.policy,
    }
    steps = (_received, _classified, _retrieved, _drafted, _gated)
    return [step(record, common) for step in steps] + [_item_entry(item, common) for item in record.items]


def _received(record: TriageRecord, common: dict[str, Any]) -> AuditEntryCreate:
    details = {
        "event_id": record.event.event_id,
        "body_hash": record.body_hash,
        "source_system": record.event.source_system.value,
        "order_value": str(record.order_value),
    }
    return AuditEntryCreate(
        action="case.received", outcome="accepted", input_hash=record.input_hash, details=details, **common
    )


def _classified(record: TriageRecord, common: dict[str, Any]) -> AuditEntryCreate:
    triage, classification = record.case, record.case.classification
    return AuditEntryCreate(
        action="case.classified",
        outcome="abstained" if classification.abstained else classification.label,
        input_hash=record.input_hash,
        confidence=classification.confidence,
        threshold=record.threshold,
        details={
            "label": classification.label,
            "alternatives": [alt.model_dump(mode="json") for alt in classification.alternatives],
            "abstained": classification.abstained,
            "abstain_reason": classification.abstain_reason,
            "severity": triage.severity.value,
            "owner_team": triage.owner_team,
            "embedding_model": triage.versions.embedding_model,
        },
        **common,
    )


def _retrieved(record: TriageRecord, common: dict[str, Any]) -> AuditEntryCreate:
    triage = record.case
    degraded = not record.neighbour_ids or any(
        "retriev" in name or "similar" in name or "neighbour" in name for name in triage.degraded
    )
    predicted = triage.predicted_resolution
    return AuditEntryCreate(
        action="case.retrieved",
        outcome="degraded" if degraded else "ok",
        input_hash=record.input_hash,
        neighbour_ids=list(record.neighbour_ids),
        details={
            "scores": {c.case_id: c.score for c in triage.similar_cases},
            "predicted_resolution": predicted.model_dump(mode="json") if predicted else None,
            "degraded": list(triage.degraded),
        },
        **common,
    )


def _drafted(record: TriageRecord, common: dict[str, Any]) -> AuditEntryCreate:
    drafts = record.case.drafts
    generators = (
        {"summary": drafts.summary.generator, "customer_update": drafts.customer_update.generator}
        if drafts is not None
        else {}
    )
    if drafts is None:
        outcome = "skipped"
    elif record.llm_error or any(g == "template-fallback" for g in generators.values()):
        outcome = "fallback"
    else:
        outcome = "ok"
    details = {"generators": generators, "llm_error": record.llm_error}
    return AuditEntryCreate(action="case.drafted", outcome=outcome, details=details, **common)


def _gated(record: TriageRecord, common: dict[str, Any]) -> AuditEntryCreate:
    triage = record.case
    return AuditEntryCreate(
        action="case.gated",
        outcome=triage.gate.decision.value,
        confidence=triage.classification.confidence,
        threshold=record.threshold,
        details={
            "mode": triage.gate.mode,
            "reasons": [reason.model_dump(mode="json") for reason in triage.gate.reasons],
            "review_due_at": record.review_due_at.isoformat() if record.review_due_at else None,
            "escalation_role": record.escalation_role,
            "degraded": list(triage.degraded),
        },
        **common,
    )


def _item_entry(item: ItemRecord, common: dict[str, Any]) -> AuditEntryCreate:
    return AuditEntryCreate(
        action=ITEM_ACTIONS.get(ItemStatus(item.status), f"item.{item.status}"),
        item_id=item.item_id,
        outcome=item.status,
        after={"text": item.text} if item.text is not None else None,
        details={
            "kind": item.kind,
            "key": item.key,
            "action": item.action,
            "risk": item.risk,
            "generator": item.generator,
            "requires_role": item.requires_role,
            "requires_team": item.requires_team,
            "four_eyes": item.four_eyes,
            "reasons": list(item.reasons),
            "findings": list(item.findings),
        },
        **common,
    )
