"""Refused requests are audited per (key, reason) and interval with a count: a flood cannot grow the log."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from triage.config import Settings
from triage.core.actors import Actor, Role
from triage.core.clock import utc_now
from triage.domain.audit.schemas import AuditFilters, AuditRecordRead
from triage.domain.audit.services import AuditService

LEAVER = Actor(subject="leaver", role=Role.COMPLIANCE, key_id="k-revoked")
REVOKED = "revoked"


class FakeClock:
    def __init__(self) -> None:
        self.now = utc_now()

    def __call__(self) -> Any:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def audit_service(sessions: sessionmaker[Session], settings: Settings, clock: FakeClock) -> AuditService:
    return AuditService(sessions, settings, clock=clock)


def denials(audit: AuditService) -> list[AuditRecordRead]:
    return audit.query(AuditFilters(action="access.denied"), limit=500).items


def counted(records: list[AuditRecordRead]) -> int:
    return sum(int((r.details or {})["count"]) for r in records)


def test_a_thousand_revoked_key_requests_leave_one_record_with_their_count(
    audit_service: AuditService, clock: FakeClock
) -> None:
    for i in range(1000):
        audit_service.record_denial(LEAVER, f"GET /v1/route-{i % 3}", REVOKED)

    assert len(denials(audit_service)) == 1
    clock.now += timedelta(seconds=61)
    assert audit_service.flush_denials() == 1
    records = denials(audit_service)
    assert [(r.details or {})["count"] for r in records] == [1, 999]
    assert (records[1].details or {})["routes"] == ["GET /v1/route-0", "GET /v1/route-1", "GET /v1/route-2"]
    assert audit_service.verify().ok


def test_a_long_flood_writes_one_record_per_interval_and_loses_no_count(
    audit_service: AuditService, clock: FakeClock
) -> None:
    intervals, per_interval = 10, 100
    for _ in range(intervals):
        for _ in range(per_interval):
            audit_service.record_denial(LEAVER, "GET /v1/model", REVOKED)
            clock.now += timedelta(seconds=0.5)
    audit_service.flush_denials(everything=True)

    records = denials(audit_service)
    assert len(records) <= intervals + 2
    assert counted(records) == intervals * per_interval


def test_each_key_and_reason_is_counted_apart(audit_service: AuditService, clock: FakeClock) -> None:
    other = Actor(subject="leaver", role=Role.COMPLIANCE, key_id="k-other")
    for _ in range(50):
        audit_service.record_denial(LEAVER, "GET /v1/model", REVOKED)
        audit_service.record_denial(other, "GET /v1/model", REVOKED)
        audit_service.record_denial(LEAVER, "GET /v1/audit", "role 'workflow' may not call GET /v1/audit")
    clock.now += timedelta(seconds=60)
    audit_service.record_denial(LEAVER, "GET /v1/model", REVOKED)  # closes every ended window
    audit_service.flush_denials(everything=True)

    records = denials(audit_service)
    # Three openings (count 1), three interval counts (49), and the flood's next interval (1).
    assert sorted(int((r.details or {})["count"]) for r in records) == [1, 1, 1, 1, 49, 49, 49]
    assert counted(records) == 151
