"""Domain services over the parametrized database (SQLite always, PostgreSQL when reachable)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from triage.config import Settings
from triage.domain.audit.anchors import AnchorStore
from triage.domain.audit.services import AuditService
from triage.domain.cases.services import CaseService
from triage.domain.events.services import EventOutbox
from triage.engines.drafting import Drafter, build_drafter


@pytest.fixture
def anchor_store(triage_home: Path) -> AnchorStore:
    return AnchorStore(triage_home / "audit-anchors")


@pytest.fixture
def audit_service(
    sessions: sessionmaker[Session], settings: Settings, anchor_store: AnchorStore
) -> AuditService:
    return AuditService(sessions, settings.audit_signing_key, anchor_store)


@pytest.fixture
def drafter(settings: Settings) -> Drafter:
    """The template drafter (no LLM), whose fact-check also checks human edits."""
    return build_drafter(settings)


@pytest.fixture
def event_outbox(sessions: sessionmaker[Session]) -> EventOutbox:
    return EventOutbox(sessions, "urn:exception-triage:test")


@pytest.fixture
def case_service(
    sessions: sessionmaker[Session], audit_service: AuditService, event_outbox: EventOutbox
) -> CaseService:
    return CaseService(sessions, audit_service, event_outbox)
