"""Exports verify offline with the public key alone, and any edit, cut, reordering or swapped head is caught
with the first bad record named."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import WORKFLOW
from tests.integration.test_audit_chain import RECORDS_PER_CASE, append_case
from triage.cli import main
from triage.config import Settings
from triage.domain.audit.export_verify import trusted_keys_from_text, verify_export_text
from triage.domain.audit.records import record_hash
from triage.domain.audit.schemas import AuditFilters, ExportVerifyRead, PublicKeyRead
from triage.domain.audit.services import AuditService
from triage.domain.audit.signing import public_pem

ROOT = Path(__file__).resolve().parents[2]
CASES = 3


@pytest.fixture
def audit_service(sessions: sessionmaker[Session], settings: Settings) -> AuditService:
    return AuditService(sessions, settings)


@pytest.fixture
def cases(audit_service: AuditService) -> list[str]:
    """Three cases of eight records each: the second case holds records 9..16."""
    return [append_case(audit_service) for _ in range(CASES)]


@pytest.fixture
def keys(audit_service: AuditService, cases: list[str]) -> list[PublicKeyRead]:
    return audit_service.public_keys().keys


def export_text(audit: AuditService, fmt: str = "jsonl", **filters: str) -> str:
    return "".join(audit.export(fmt, AuditFilters(**filters)))  # type: ignore[arg-type]


def records_of(text: str) -> tuple[str, list[dict[str, object]]]:
    header, *rest = text.split("\n")
    return header, [json.loads(line) for line in rest if line]


def joined(header: str, records: list[dict[str, object]]) -> str:
    return "\n".join([header, *(json.dumps(r) for r in records)]) + "\n"


def assert_fails(result: ExportVerifyRead, failure: str, seq: int | None, words: str) -> None:
    assert (result.ok, result.failure, result.first_bad_seq) == (False, failure, seq), result.problem
    assert result.problem is not None and words in result.problem


def test_one_case_verifies_offline_in_another_process_with_only_the_public_key(
    audit_service: AuditService, cases: list[str], keys: list[PublicKeyRead], tmp_path: Path
) -> None:
    text = export_text(audit_service, case_id=cases[1])
    (tmp_path / "case.jsonl").write_text(text, encoding="utf-8")
    (tmp_path / "audit.pem").write_text(keys[0].public_key_pem, encoding="utf-8")
    empty_home = tmp_path / "auditor-home"  # no database, no key, no settings: only the two files
    env = {"PATH": os.environ.get("PATH", ""), "TRIAGE_HOME": str(empty_home), "PYTHONPATH": str(ROOT)}

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "triage.cli",
            "audit",
            "verify",
            "--export",
            "case.jsonl",
            "--public-key",
            "audit.pem",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{RECORDS_PER_CASE} records ({RECORDS_PER_CASE} selected records)" in done.stdout
    assert not empty_home.exists()
    _, records = records_of(text)
    assert [r["seq"] for r in records] == list(range(9, 17))
    assert {r["case_id"] for r in records} == {cases[1]}
    result = verify_export_text(text, trusted_keys_from_text(keys[0].public_key_pem))
    assert (result.ok, result.checked, result.complete, result.key_source) == (True, 8, False, "given")


def _edit(records: list[dict[str, object]]) -> None:
    records[3]["reason"] = "approved by the CFO"


def _edit_and_rehash(records: list[dict[str, object]]) -> None:
    records[3]["reason"] = "approved by the CFO"
    records[3]["hash"] = record_hash(records[3])


def _remove(records: list[dict[str, object]]) -> None:
    del records[3]


def _reorder(records: list[dict[str, object]]) -> None:
    records[2], records[3] = records[3], records[2]


def _drop_last(records: list[dict[str, object]]) -> None:
    records.pop()


def _swap_proofs(records: list[dict[str, object]]) -> None:
    records[3]["audit_path"], records[4]["audit_path"] = records[4]["audit_path"], records[3]["audit_path"]


@pytest.mark.parametrize(
    ("change", "failure", "seq", "words"),
    [
        (_edit, "tampered", 12, "record 12 was altered"),
        (_edit_and_rehash, "tampered", 12, "record 12 is not in the signed tree"),
        (_remove, "tampered", 12, "record 12 is missing"),
        (_reorder, "tampered", 11, "record 11 is missing or out of place"),
        (_drop_last, "truncated", 16, "record 16 and after are missing"),
        (_swap_proofs, "tampered", 12, "record 12 is not in the signed tree"),
    ],
    ids=["edited", "edited-and-rehashed", "removed", "reordered", "truncated", "proofs-swapped"],
)
def test_tampering_with_one_case_names_the_first_bad_record(
    audit_service: AuditService,
    cases: list[str],
    keys: list[PublicKeyRead],
    change: Callable[[list[dict[str, object]]], None],
    failure: str,
    seq: int,
    words: str,
) -> None:
    header, records = records_of(export_text(audit_service, case_id=cases[1]))
    change(records)

    assert_fails(verify_export_text(joined(header, records), keys), failure, seq, words)


def test_a_case_shown_against_another_tree_head_fails_at_its_first_record(
    audit_service: AuditService, cases: list[str], keys: list[PublicKeyRead]
) -> None:
    _, records = records_of(export_text(audit_service, case_id=cases[1]))
    append_case(audit_service)
    later_header, later_records = records_of(export_text(audit_service, case_id=cases[1]))

    assert verify_export_text(joined(later_header, later_records), keys).ok
    result = verify_export_text(joined(later_header, records), keys)
    assert_fails(result, "tampered", 9, "record 9 is not in the signed tree")


def test_a_filtered_export_cannot_pass_as_the_whole_log(
    audit_service: AuditService, cases: list[str], keys: list[PublicKeyRead]
) -> None:
    header, records = records_of(export_text(audit_service, case_id=cases[1]))
    claimed = json.loads(header)
    claimed["selection"] |= {"complete": True, "seqs": None, "filter": {}, "count": 3 * RECORDS_PER_CASE}
    full_header, _ = records_of(export_text(audit_service))

    result = verify_export_text(joined(json.dumps(claimed), records), keys)
    assert_fails(result, "bad_signature", None, "selection")
    # A genuine whole-log header over one case's records: record 1 is the first one missing.
    result = verify_export_text(joined(full_header, records), keys)
    assert_fails(result, "tampered", 1, "record 1 is missing")


def test_a_full_export_cut_at_any_line_is_detected(
    audit_service: AuditService, keys: list[PublicKeyRead]
) -> None:
    append_case(audit_service)
    append_case(audit_service)
    lines = export_text(audit_service).split("\n")
    total = 2 * RECORDS_PER_CASE

    assert verify_export_text("\n".join(lines), keys).ok
    for cut in range(1, total + 1):
        result = verify_export_text("\n".join(lines[:cut]) + "\n", keys)
        assert_fails(result, "truncated", cut, f"record {cut} and after are missing")
    half_line = "\n".join(lines[:5]) + "\n" + lines[5][: len(lines[5]) // 2]
    assert_fails(verify_export_text(half_line, keys), "tampered", 5, "not a readable record")
    assert verify_export_text("", keys).failure == "malformed"


FORMULAS = ['=HYPERLINK("http://evil","x")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd", "'quoted", ""]


def test_the_csv_export_verifies_and_its_formula_cells_are_escaped(
    audit_service: AuditService, cases: list[str], keys: list[PublicKeyRead]
) -> None:
    for text in FORMULAS:
        audit_service.record_event(
            WORKFLOW, "case.noted", case_id=cases[0], reason=text, details={"note": text}
        )
    exported = export_text(audit_service, "csv", case_id=cases[0])

    rows = list(csv.reader(io.StringIO(exported, newline="")))
    assert rows[0][:3] == ["kind", "seq", "at"] and rows[1][0] == "header"
    cells = [cell for row in rows for cell in row]
    assert not [cell for cell in cells if cell[:1] in {"=", "+", "-", "@", "\t", "\r"}]
    reasons = [row[rows[0].index("reason")] for row in rows[2:]][-len(FORMULAS) :]
    assert reasons == ["'" + text for text in FORMULAS]
    result = verify_export_text(exported, keys)
    assert (result.ok, result.format, result.checked) == (True, "csv", RECORDS_PER_CASE + len(FORMULAS))
    tampered = exported.replace("'=HYPERLINK", "'=HYPERLYNK")
    assert_fails(verify_export_text(tampered, keys), "tampered", 3 * RECORDS_PER_CASE + 1, "altered")
    cut = exported[: exported.rindex("\r\nrecord,") + 2]
    assert_fails(
        verify_export_text(cut, keys), "truncated", 3 * RECORDS_PER_CASE + len(FORMULAS), "truncated"
    )
    assert_fails(
        verify_export_text(exported + "record,\x00\r\n", keys), "tampered", None, "after the last record"
    )


def test_a_wrong_public_key_is_reported_as_a_wrong_key(
    audit_service: AuditService, cases: list[str], keys: list[PublicKeyRead]
) -> None:
    text = export_text(audit_service, case_id=cases[0])
    stranger = public_pem(Ed25519PrivateKey.generate().public_key())
    forged = json.loads(text.split("\n")[0])
    forged["tree_head"]["root"] = "ab" * 32

    result = verify_export_text(text, trusted_keys_from_text(stranger))
    assert_fails(result, "wrong_key", None, "wrong key")
    assert "rewritten" not in str(result.problem)
    forged_text = joined(json.dumps(forged), records_of(text)[1])
    assert_fails(verify_export_text(forged_text, keys), "bad_signature", None, "edited or forged")
    assert verify_export_text(text).key_source == "embedded"


def test_the_verify_command_takes_an_export_of_either_format(
    audit_service: AuditService,
    cases: list[str],
    keys: list[PublicKeyRead],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key_file = tmp_path / "keys.json"
    key_file.write_text(audit_service.public_keys().model_dump_json(), encoding="utf-8")
    stranger = tmp_path / "stranger.pem"
    stranger.write_text(public_pem(Ed25519PrivateKey.generate().public_key()), encoding="utf-8")
    for fmt in ("jsonl", "csv"):
        path = tmp_path / f"case.{fmt}"
        path.write_text(export_text(audit_service, fmt, case_id=cases[2]), encoding="utf-8", newline="")
        assert main(["audit", "verify", "--export", str(path), "--public-key", str(key_file)]) == 0
        assert "intact" in capsys.readouterr().out
        assert main(["audit", "verify", "--export", str(path), "--public-key", str(stranger)]) == 3
        assert "wrong key" in capsys.readouterr().err
    header, records = records_of((tmp_path / "case.jsonl").read_text(encoding="utf-8"))
    _edit(records)
    (tmp_path / "edited.jsonl").write_text(joined(header, records), encoding="utf-8")

    assert (
        main(["audit", "verify", "--export", str(tmp_path / "edited.jsonl"), "--public-key", str(key_file)])
        == 1
    )
    assert "seq=20:" in capsys.readouterr().err
    assert main(["audit", "verify"]) == 0  # no --export: the database chain


def test_the_export_command_filters_and_writes_a_verifiable_file(
    audit_service: AuditService, cases: list[str], keys: list[PublicKeyRead], tmp_path: Path
) -> None:
    out = tmp_path / "case.csv"

    assert main(["audit", "export", "--format", "csv", "--case-id", cases[0], "--out", str(out)]) == 0
    result = verify_export_text(out.read_text(encoding="utf-8"), keys)
    assert (result.ok, result.checked, result.expected) == (True, RECORDS_PER_CASE, RECORDS_PER_CASE)


def test_an_empty_log_exports_a_verifiable_empty_tree(audit_service: AuditService) -> None:
    text = export_text(audit_service)

    result = verify_export_text(text, audit_service.public_keys().keys)
    assert (result.ok, result.tree_size, result.checked) == (True, 0, 0)
