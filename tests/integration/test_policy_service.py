"""The policy service follows its file: a change is reloaded and audited once; a missing or invalid file is
refused once per change of the file (not once per look), and the policy in force stays."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from triage.core.actors import Actor, Role
from triage.core.errors import InvalidInput
from triage.domain.audit.schemas import AuditFilters
from triage.domain.audit.services import AuditService
from triage.domain.events.services import EventOutbox
from triage.domain.policy.services import PolicyService
from triage.engines.policy.loader import PolicyStore

GUARDRAILS = Path("guardrails")


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    shutil.copy(GUARDRAILS / "policy.yaml", path)
    return path


@pytest.fixture
def service(policy_file: Path, audit_service: AuditService, event_outbox: EventOutbox) -> PolicyService:
    store = PolicyStore(policy_file, taxonomy_file=GUARDRAILS / "taxonomy.yaml")
    return PolicyService(store, audit_service, event_outbox)


def actions(audit: AuditService, action: str) -> int:
    return len(audit.query(AuditFilters(action=action), limit=500).items)


def test_a_missing_file_is_refused_once_not_on_every_look(
    service: PolicyService, policy_file: Path, audit_service: AuditService
) -> None:
    in_force = service.current.version_hash
    saved = policy_file.read_text(encoding="utf-8")
    policy_file.unlink()

    for _ in range(5):
        service.follow_file()

    assert actions(audit_service, "policy.reload_refused") == 1
    assert service.current.version_hash == in_force
    policy_file.write_text(saved, encoding="utf-8")
    service.follow_file()
    assert actions(audit_service, "policy.reload_refused") == 1
    assert actions(audit_service, "policy.reloaded") == 0  # the same rules again: nothing to put in force


def test_a_changed_file_is_reloaded_once_and_audited_before_it_applies(
    service: PolicyService, policy_file: Path, audit_service: AuditService
) -> None:
    before = service.current.version_hash
    data = yaml.safe_load(policy_file.read_text(encoding="utf-8"))
    data["defaults"]["thresholds"]["auto"] = 0.97
    policy_file.write_text(yaml.safe_dump(data), encoding="utf-8")

    service.follow_file()
    service.follow_file()

    assert service.current.version_hash != before
    reloads = audit_service.query(AuditFilters(action="policy.reloaded")).items
    assert len(reloads) == 1
    assert reloads[0].details == {"before": before, "after": service.current.version_hash}
    assert reloads[0].actor_role == "system"


def test_an_explicit_reload_of_an_invalid_file_is_refused_and_audited(
    service: PolicyService, policy_file: Path, audit_service: AuditService
) -> None:
    in_force = service.current.version_hash
    policy_file.write_text("defaults: [not, a, mapping]\n", encoding="utf-8")
    admin = Actor(subject="ops", role=Role.ADMIN)

    with pytest.raises(InvalidInput, match="stays in force"):
        service.reload(admin)

    assert service.current.version_hash == in_force
    refused = audit_service.query(AuditFilters(action="policy.reload_refused")).items
    assert [r.actor_subject for r in refused] == ["ops"]
