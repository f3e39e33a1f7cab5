"""The Ed25519 signing key: created on first start outside production, required in production, rotated with
an audit record while old heads keep verifying; anchors pruned by age; a wrong HMAC key named as such."""

from __future__ import annotations

import stat
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.test_audit_chain import RECORDS_PER_CASE, append_case
from triage.cli import main
from triage.config import Settings
from triage.core.actors import Actor
from triage.core.clock import utc_now
from triage.core.errors import ConfigurationError
from triage.domain.audit.anchors import AnchorStore
from triage.domain.audit.export_verify import trusted_keys_from_text, verify_export_text
from triage.domain.audit.keyring import AuditKeyring
from triage.domain.audit.schemas import AnchorRead, AuditFilters
from triage.domain.audit.services import AuditService
from triage.domain.audit.signing import private_pem


class FakeClock:
    def __init__(self) -> None:
        self.now = utc_now()

    def __call__(self):  # type: ignore[no-untyped-def]
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def audit_service(sessions: sessionmaker[Session], settings: Settings, clock: FakeClock) -> AuditService:
    return AuditService(sessions, settings, clock=clock)


def test_the_key_is_created_once_outside_production_and_required_in_it(
    settings: Settings, tmp_path: Path
) -> None:
    first = AuditKeyring.from_settings(settings).ensure()
    again = AuditKeyring.from_settings(settings).ensure()

    assert first.key_id == again.key_id
    key_file = settings.resolved_audit_signing_key_file
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    with pytest.raises(ValidationError, match="TRIAGE_AUDIT_SIGNING_KEY_FILE"):
        Settings(environment="production", audit_signing_key="a-real-secret", home=tmp_path)
    production = Settings(
        environment="production",
        audit_signing_key="a-real-secret",
        home=tmp_path,
        audit_signing_key_file=tmp_path / "missing.pem",
    )
    with pytest.raises(ConfigurationError, match="no audit signing key"):
        AuditKeyring.from_settings(production)
    assert not (tmp_path / "missing.pem").exists()


def test_rotation_is_audited_and_old_exports_still_verify(
    audit_service: AuditService, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    case_id = append_case(audit_service)
    before = "".join(audit_service.export("jsonl", AuditFilters(case_id=case_id)))
    assert audit_service.anchor() is not None
    old_key = audit_service.public_keys().keys[0]
    clock.advance(days=1)

    assert main(["audit", "rotate-key"]) == 0
    assert "retired" in capsys.readouterr().out
    clock.advance(seconds=1)
    append_case(audit_service)
    after = "".join(audit_service.export("jsonl"))
    assert audit_service.anchor() is not None

    published = audit_service.public_keys()
    assert published.keys[0].key_id == old_key.key_id
    assert published.keys[0].valid_until is not None and published.keys[1].valid_until is None
    assert published.current_key_id == published.keys[1].key_id != old_key.key_id
    keys = trusted_keys_from_text(published.model_dump_json())
    assert verify_export_text(before, keys).ok
    assert verify_export_text(after, keys).ok
    assert verify_export_text(before, [published.keys[1]]).failure == "wrong_key"
    [rotation] = audit_service.query(AuditFilters(action="audit.key_rotated")).items
    assert rotation.details == {"retired_key_id": old_key.key_id, "new_key_id": published.keys[1].key_id}
    result = audit_service.verify()
    assert (result.ok, result.anchors_checked) == (True, 2)


def test_rotating_to_a_given_key_and_never_back(
    audit_service: AuditService, clock: FakeClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new_key = Ed25519PrivateKey.generate()
    (tmp_path / "new.pem").write_bytes(private_pem(new_key))
    old_pem = private_pem(audit_service.keyring._load_private())
    (tmp_path / "old.pem").write_bytes(old_pem)

    assert main(["audit", "rotate-key", "--private-key", str(tmp_path / "new.pem")]) == 0
    clock.advance(minutes=1)  # the command rotated on the real clock
    assert audit_service.keyring.signing_key()[1].public_key() == new_key.public_key()
    assert main(["audit", "rotate-key", "--private-key", str(tmp_path / "old.pem")]) == 2
    assert "never used" in capsys.readouterr().err


def test_a_retired_key_is_never_used_to_sign(audit_service: AuditService, settings: Settings) -> None:
    append_case(audit_service)
    stale = AuditKeyring(settings.resolved_audit_signing_key_file, settings.resolved_audit_public_keys_file)
    old_private = settings.resolved_audit_signing_key_file.read_bytes()
    audit_service.rotate_signing_key(Actor.system())
    settings.resolved_audit_signing_key_file.write_bytes(old_private)  # a process still holding the old key

    with pytest.raises(ConfigurationError, match="not published as valid"):
        stale.signing_key()


def test_anchors_older_than_the_retention_are_pruned(
    sessions: sessionmaker[Session], settings: Settings, clock: FakeClock, anchor_store: AnchorStore
) -> None:
    audit = AuditService(sessions, settings, clock=clock, anchor_retention=timedelta(days=30))
    sizes = []
    for _ in range(3):
        append_case(audit)
        anchor = audit.anchor()
        assert anchor is not None
        sizes.append(anchor.tree_size)
        clock.advance(days=20)

    remaining = sorted(anchor.tree_size for _, anchor in anchor_store.load() if anchor is not None)
    assert sizes == [RECORDS_PER_CASE, 2 * RECORDS_PER_CASE, 3 * RECORDS_PER_CASE]
    assert remaining == [2 * RECORDS_PER_CASE, 3 * RECORDS_PER_CASE]  # the first is 40 days old
    clock.advance(days=365)
    assert audit.anchor() is None  # nothing new: the newest anchor stays however old
    assert [a.tree_size for _, a in anchor_store.load() if a is not None] == [3 * RECORDS_PER_CASE]
    assert audit.verify().ok


def test_a_wrong_hmac_key_is_named_not_called_a_rewrite(
    audit_service: AuditService,
    sessions: sessionmaker[Session],
    settings: Settings,
    anchor_store: AnchorStore,
) -> None:
    append_case(audit_service)
    assert audit_service.anchor() is not None
    misconfigured = AuditService(sessions, "not-the-key", anchor_store, keyring=audit_service.keyring)

    result = misconfigured.verify()

    assert (result.ok, result.failure, result.first_bad_seq) == (False, "wrong_key", 1)
    assert result.problem is not None and "wrong TRIAGE_AUDIT_SIGNING_KEY" in result.problem
    assert "rewritten" not in result.problem


def test_a_legacy_hmac_anchor_still_verifies(
    audit_service: AuditService, settings: Settings, anchor_store: AnchorStore, clock: FakeClock
) -> None:
    append_case(audit_service)
    head = audit_service.query(AuditFilters()).items[-1]
    legacy = AnchorRead(
        seq=head.seq,
        hash=head.hash,
        at=clock(),
        signature=audit_service.signer.anchor(head.seq, head.hash, clock()),
    )
    anchor_store.directory.mkdir(parents=True, exist_ok=True)
    (anchor_store.directory / f"anchor-{head.seq:012d}.json").write_text(legacy.model_dump_json())

    assert audit_service.verify().ok
    forged = legacy.model_copy(update={"hash": "0" * 64})
    (anchor_store.directory / f"anchor-{head.seq:012d}.json").write_text(forged.model_dump_json())
    assert audit_service.verify().problem == f"anchor anchor-{head.seq:012d}.json has an invalid signature"
