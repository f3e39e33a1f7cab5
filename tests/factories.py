"""Factories for events and ``TriageRecord`` objects, so tests state only what they care about."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from triage.core.actors import Actor, Role
from triage.core.events import ExceptionEvent
from triage.core.hashing import sha256_json, sha256_text
from triage.core.vocabulary import CaseStatus, GateDecision, GateMode, ItemKind, ItemStatus
from triage.domain.cases.records import ItemRecord, TriageRecord
from triage.domain.cases.schemas import TriageCase
from triage.engines.policy.taxonomy import Taxonomy, load_taxonomy

WORKFLOW = Actor(subject="erp-bridge", role=Role.WORKFLOW, key_id="k-workflow")
TAXONOMY_FILE = Path("guardrails/taxonomy.yaml")


@cache
def taxonomy() -> Taxonomy:
    """The shipped taxonomy: factories name only the teams and actions production writes."""
    return load_taxonomy(TAXONOMY_FILE)


def make_event(event_id: str | None = None, **overrides: Any) -> ExceptionEvent:
    order: dict[str, Any] = {
        "order_id": "SO-1001",
        "customer_id": "CUST-7",
        "site": "DC-EAST",
        "order_value": "1250.00",
        "order_date": "2026-04-28",
        "lines": [{"line_id": "1", "sku": "SKU-42", "quantity_ordered": "10", "quantity_allocated": "4"}],
    }
    order.update(overrides.pop("order", {}))
    body: dict[str, Any] = {
        "event_id": event_id or f"evt-{uuid.uuid4().hex[:12]}",
        "source_system": "wms",
        "occurred_at": "2026-05-01T08:00:00Z",
        "order": order,
        "exception_code": "ALLOC_SHORT",
        "description": "Allocation short by 6 units at DC-EAST",
    }
    body.update(overrides)
    return ExceptionEvent.model_validate(body)


def make_item(case_id: str, key: str, **overrides: Any) -> ItemRecord:
    kind = ItemKind.DRAFT if key.startswith("draft:") else ItemKind.RECOMMENDATION
    values: dict[str, Any] = {
        "item_id": f"{case_id}-{key.replace(':', '-')}",
        "kind": kind,
        "key": key,
        "action": key.split(":", 1)[1] if kind == "recommendation" else None,
        "text": "We are checking an alternate warehouse." if kind == "draft" else None,
        "generator": "template" if kind == "draft" else None,
        "risk": "low",
        "status": ItemStatus.PENDING_REVIEW,
        "requires_role": "agent",
        "requires_team": None,
        "four_eyes": False,
        "findings": [],
        "reasons": [{"rule": "mode.recommend", "detail": "category is in recommend mode"}],
    }
    values.update(overrides)
    return ItemRecord(**values)


def make_record(
    event: ExceptionEvent | None = None,
    *,
    items: list[ItemRecord] | None = None,
    item_overrides: dict[str, dict[str, Any]] | None = None,
    created_at: datetime | None = None,
    review_due_at: datetime | None = None,
    label: str = "inventory_shortage",
    team: str | None = None,
    case_id: str | None = None,
) -> TriageRecord:
    """A stored-ready record of ``label``, owned by the taxonomy's team for it unless ``team`` is given."""
    event = event or make_event()
    team = team or taxonomy().owner_team(label)
    confidence = 0.91
    case_id = case_id or f"case-{uuid.uuid4().hex[:12]}"
    created_at = created_at or datetime.now(UTC)
    overrides = item_overrides or {}
    if items is None:
        items = [
            make_item(
                case_id,
                f"recommendation:{taxonomy().actions(label)[0]}",
                **overrides.get("recommendation", {}),
            ),
            make_item(
                case_id,
                "draft:summary",
                status=ItemStatus.AUTO_APPROVED,
                requires_role=None,
                **overrides.get("summary", {}),
            ),
            make_item(
                case_id, "draft:customer_update", risk="medium", **overrides.get("customer_update", {})
            ),
        ]
    by_key = {item.key: item for item in items}
    drafts = None
    if "draft:summary" in by_key and "draft:customer_update" in by_key:
        drafts = {
            name: {
                "item_id": by_key[f"draft:{name}"].item_id,
                "text": by_key[f"draft:{name}"].text or "",
                "generator": by_key[f"draft:{name}"].generator or "template",
                "status": by_key[f"draft:{name}"].status,
                "requires_role": by_key[f"draft:{name}"].requires_role,
            }
            for name in ("summary", "customer_update")
        }
    pending = any(i.status == ItemStatus.PENDING_REVIEW for i in items)
    gate = GateDecision.NEEDS_REVIEW if pending else GateDecision.AUTO_APPROVED
    case = TriageCase.model_validate(
        {
            "case_id": case_id,
            "event_id": event.event_id,
            "status": CaseStatus.PENDING_REVIEW if pending else CaseStatus.AUTO_APPROVED,
            "created_at": created_at.isoformat(),
            "classification": {
                "label": label,
                "confidence": confidence,
                "alternatives": [
                    {"label": label, "confidence": confidence},
                    {"label": "other", "confidence": 0.05},
                ],
            },
            "severity": "high",
            "owner_team": team,
            "similar_cases": [
                {
                    "case_id": "H-1",
                    "score": 0.82,
                    "label": label,
                    "summary": "short at DC",
                    "resolution": "transfer",
                }
            ],
            "predicted_resolution": None,
            "recommendations": [
                {
                    "id": item.item_id,
                    "action": item.action,
                    "risk": item.risk,
                    "status": item.status,
                    "requires_role": item.requires_role,
                }
                for item in items
                if item.kind == ItemKind.RECOMMENDATION
            ],
            "drafts": drafts,
            "gate": {"decision": gate, "reasons": [], "mode": GateMode.RECOMMEND},
            "versions": {"model": "model-abc", "policy": "policy-123", "prompts": "prompts-xyz"},
            "degraded": [],
            "review_due_at": review_due_at.isoformat() if review_due_at else None,
            "updated_at": created_at.isoformat(),
        }
    )
    return TriageRecord(
        case=case,
        event=event,
        body_hash=sha256_json(event.model_dump(mode="json")),
        input_hash=sha256_text(event.description),
        items=items,
        neighbour_ids=["H-1"],
        threshold=0.8,
        actor=WORKFLOW,
        order_value=Decimal(str(event.order.order_value)),
        team=team,
        review_due_at=review_due_at if review_due_at is not None else created_at + timedelta(hours=4),
        escalation_role="supervisor",
    )
