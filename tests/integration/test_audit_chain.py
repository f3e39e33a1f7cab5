"""The audit chain: every kind of tampering is detected and the first bad sequence number is named.

The tampering bypasses the append-only triggers and privileges first, as an attacker with database access
would; ``triage audit verify`` must still find it.
"""

from __future__ import annotations

import argparse
import json
import threading
import uuid
from typing import Any

import pytest
from sqlalchemy import Engine, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import WORKFLOW
from triage.commands.audit import run_audit_verify
from triage.config import Settings
from triage.core.actors import Actor
from triage.db.tables import AuditHeadRow, AuditLogRow
from triage.domain.audit.anchors import AnchorStore
from triage.domain.audit.export_verify import verify_export_text
from triage.domain.audit.records import record_hash
from triage.domain.audit.schemas import AuditEntryCreate, AuditFilters
from triage.domain.audit.services import AuditService
from triage.domain.audit.signing import AuditSigner

STORY = (
    "case.received",
    "case.classified",
    "case.retrieved",
    "case.drafted",
    "case.gated",
    "item.auto_approved",
    "item.pending_review",
    "item.approved",
)
RECORDS_PER_CASE = len(STORY)


def append_case(audit: AuditService, case_id: str | None = None, **fields: Any) -> str:
    """The audit story of one triaged case (what ``CaseService.create`` and a review write), in one
    transaction; ``fields`` (``reason`` ...) go into every record."""
    case_id = case_id or f"case-{uuid.uuid4().hex[:10]}"
    entries = [
        AuditEntryCreate(
            action=action,
            actor=WORKFLOW,
            case_id=case_id,
            order_id="SO-1001",
            outcome="ok",
            confidence=0.8125 if action == "case.classified" else None,
            details={"step": step, "neighbours": ["h-1", "h-2"]},
            **fields,
        )
        for step, action in enumerate(STORY)
    ]
    audit.append_now(entries)
    return case_id


@pytest.fixture
def audit_service(sessions: sessionmaker[Session], settings: Settings) -> AuditService:
    """Built as the app builds it: the settings' HMAC key, Ed25519 keyring and anchor directory (the one the
    ``anchor_store`` fixture reads), so the CLI verifies what the service wrote."""
    return AuditService(sessions, settings)


@pytest.fixture
def chain(audit_service: AuditService) -> int:
    """Three triaged cases: 24 records."""
    for _ in range(3):
        append_case(audit_service)
    last = 3 * RECORDS_PER_CASE
    assert audit_service.verify().head_seq == last
    return last


def unprotect(engine: Engine) -> None:
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("GRANT UPDATE, DELETE ON audit_log TO CURRENT_USER"))
            connection.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        else:
            connection.execute(text("DROP TRIGGER audit_log_no_update"))
            connection.execute(text("DROP TRIGGER audit_log_no_delete"))


def tamper(engine: Engine, *statements: str) -> None:
    unprotect(engine)
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))


def cli_verify(capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = run_audit_verify(argparse.Namespace())
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def assert_detected(audit: AuditService, capsys: pytest.CaptureFixture[str], seq: int) -> None:
    result = audit.verify()
    assert not result.ok
    assert result.first_bad_seq == seq, result.problem
    code, output = cli_verify(capsys)
    assert code == 1
    assert f"seq={seq}:" in output


def test_an_intact_chain_verifies(
    chain: int, audit_service: AuditService, capsys: pytest.CaptureFixture[str]
) -> None:
    result = audit_service.verify()

    assert (result.ok, result.checked, result.first_bad_seq) == (True, chain, None)
    code, output = cli_verify(capsys)
    assert code == 0
    assert f"{chain} records checked" in output


def test_editing_a_field_is_detected(
    chain: int, audit_service: AuditService, db_engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    tamper(db_engine, "UPDATE audit_log SET outcome = 'forged' WHERE seq = 7")
    assert_detected(audit_service, capsys, 7)


def test_deleting_a_record_is_detected(
    chain: int, audit_service: AuditService, db_engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    tamper(db_engine, "DELETE FROM audit_log WHERE seq = 10")
    assert_detected(audit_service, capsys, 10)


def test_reordering_two_records_is_detected(
    chain: int, audit_service: AuditService, db_engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    tamper(
        db_engine,
        "UPDATE audit_log SET seq = -5 WHERE seq = 5",
        "UPDATE audit_log SET seq = 5 WHERE seq = 6",
        "UPDATE audit_log SET seq = 6 WHERE seq = -5",
    )
    assert_detected(audit_service, capsys, 5)


def test_truncating_the_tail_is_detected(
    chain: int, audit_service: AuditService, db_engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    tamper(db_engine, "DELETE FROM audit_log WHERE seq > 20")
    assert_detected(audit_service, capsys, 21)


def _rewrite_from(sessions: sessionmaker[Session], start: int, change: dict[str, Any]) -> None:
    """Change record ``start`` and recompute every hash and link after it, as a forger without the key."""
    forged_signer = AuditSigner("the attacker's guess")
    with sessions.begin() as session:
        rows = session.execute(select(AuditLogRow).order_by(AuditLogRow.seq)).scalars().all()
        prev = rows[start - 2].hash if start > 1 else "0" * 64
        for row in rows[start - 1 :]:
            if row.seq == start:
                for name, value in change.items():
                    setattr(row, name, value)
            row.prev_hash = prev
            row.hash = record_hash(
                {name: getattr(row, name) for name in AuditLogRow.__table__.columns.keys()}  # noqa: SIM118
            )
            row.signature = forged_signer.record(row.hash)
            prev = row.hash
        head = session.get(AuditHeadRow, 1)
        assert head is not None
        head.hash = prev


def test_rewriting_the_whole_chain_with_recomputed_hashes_is_detected(
    chain: int,
    audit_service: AuditService,
    db_engine: Engine,
    sessions: sessionmaker[Session],
    capsys: pytest.CaptureFixture[str],
) -> None:
    unprotect(db_engine)
    _rewrite_from(sessions, 1, {"actor_subject": "someone-else"})
    assert_detected(audit_service, capsys, 1)


def test_a_rewrite_from_the_middle_names_its_first_record(
    chain: int,
    audit_service: AuditService,
    db_engine: Engine,
    sessions: sessionmaker[Session],
    capsys: pytest.CaptureFixture[str],
) -> None:
    unprotect(db_engine)
    _rewrite_from(sessions, 12, {"reason": "approved by the CFO"})
    assert_detected(audit_service, capsys, 12)


def test_rolling_back_to_an_older_genuine_head_is_caught_by_the_anchor(
    audit_service: AuditService,
    db_engine: Engine,
    sessions: sessionmaker[Session],
    capsys: pytest.CaptureFixture[str],
) -> None:
    append_case(audit_service)
    with sessions() as session:
        old_head = session.execute(select(AuditHeadRow)).scalar_one()
        saved = {
            "seq": old_head.seq,
            "hash": old_head.hash,
            "at": old_head.at,
            "signature": old_head.signature,
        }
    append_case(audit_service)
    anchor = audit_service.anchor()
    assert anchor is not None and anchor.tree_size == 2 * RECORDS_PER_CASE
    assert audit_service.anchor() is None  # nothing new to anchor

    tamper(db_engine, f"DELETE FROM audit_log WHERE seq > {RECORDS_PER_CASE}")
    with sessions.begin() as session:
        session.execute(update(AuditHeadRow).where(AuditHeadRow.id == 1).values(**saved))

    assert_detected(audit_service, capsys, RECORDS_PER_CASE + 1)


def test_a_forged_anchor_is_detected(
    chain: int, audit_service: AuditService, anchor_store: AnchorStore
) -> None:
    anchor = audit_service.anchor()
    assert anchor is not None
    path = next(anchor_store.directory.glob("anchor-*.json"))
    forged = json.loads(path.read_text()) | {"root": "f" * 64}
    path.write_text(json.dumps(forged))

    result = audit_service.verify()

    assert not result.ok
    assert result.problem is not None and "invalid signature" in result.problem


def test_the_export_reverifies_and_its_tampering_is_detected(chain: int, audit_service: AuditService) -> None:
    keys = audit_service.public_keys().keys
    lines = "".join(audit_service.export("jsonl")).split("\n")
    csv_lines = "".join(audit_service.export("csv")).splitlines()

    assert len(lines) == 1 + chain + 1  # header, records, the empty string after the last newline
    assert len(csv_lines) == 2 + chain  # column names, header row, records
    assert verify_export_text("\n".join(lines), keys).ok
    edited = json.loads(lines[5]) | {"reason": "edited in the export"}
    lines[5] = json.dumps(edited)
    result = verify_export_text("\n".join(lines), keys)
    assert (result.ok, result.first_bad_seq) == (False, 5)


def test_concurrent_appends_stay_gapless(audit_service: AuditService) -> None:
    def writer(n: int) -> None:
        for i in range(10):
            audit_service.record_event(Actor.system(), "test.appended", details={"writer": n, "i": i})

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    result = audit_service.verify()
    assert (result.ok, result.checked, result.head_seq) == (True, 60, 60)


def test_query_filters_and_pages_in_sequence_order(chain: int, audit_service: AuditService) -> None:
    first = audit_service.query(AuditFilters(action="case.classified"), limit=2)
    second = audit_service.query(AuditFilters(action="case.classified"), cursor=first.next_cursor, limit=2)

    seqs = [r.seq for r in first.items + second.items]
    assert seqs == [2, 2 + RECORDS_PER_CASE, 2 + 2 * RECORDS_PER_CASE]
    assert second.next_cursor is None
    assert audit_service.query(AuditFilters(actor="nobody")).items == []
    assert len(audit_service.query(AuditFilters(order_id="SO-1001")).items) == chain


def test_record_denial_is_audited(audit_service: AuditService) -> None:
    audit_service.record_denial(Actor(subject="mallory", role=None), "/v1/audit", "missing role compliance")

    [record] = audit_service.query(AuditFilters(action="access.denied")).items
    assert (record.actor_subject, record.outcome, record.reason) == (
        "mallory",
        "denied",
        "missing role compliance",
    )
    assert record.details is not None
    assert (record.details["route"], record.details["count"]) == ("/v1/audit", 1)


def test_appends_from_a_rolled_back_transaction_leave_no_gap(
    audit_service: AuditService, sessions: sessionmaker[Session]
) -> None:
    audit_service.record_event(Actor.system(), "test.first")
    with pytest.raises(RuntimeError), sessions.begin() as session:
        audit_service.append(session, [AuditEntryCreate(action="test.lost", actor=Actor.system())])
        raise RuntimeError("the change failed after its audit record was written")
    audit_service.record_event(Actor.system(), "test.second")

    assert [r.seq for r in audit_service.query(AuditFilters()).items] == [1, 2]
    assert audit_service.verify().ok
