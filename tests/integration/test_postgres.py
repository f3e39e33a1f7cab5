"""PostgreSQL specifics: privileges and triggers protect the audit log; appends from separate processes.

Every test in the integration suite that takes ``database_url`` already runs on PostgreSQL too; these are
the checks that only mean something there. Skipped, with the reason, when no PostgreSQL is reachable.
"""

from __future__ import annotations

import multiprocessing
import os

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from tests.conftest import postgres_unavailable_reason
from triage.config import get_settings
from triage.core.actors import Actor
from triage.db.engine import create_db_engine, create_session_factory
from triage.db.migrate import upgrade_database
from triage.domain.audit.services import AuditService

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(postgres_unavailable_reason() is not None, reason=str(postgres_unavailable_reason())),
]


@pytest.fixture
def pg_engine(postgres_url: str) -> Engine:
    upgrade_database(postgres_url)
    return create_db_engine(postgres_url)


def test_the_service_role_has_no_update_delete_or_truncate_privilege(pg_engine: Engine) -> None:
    with pg_engine.connect() as connection:
        granted = {
            privilege: connection.execute(
                text("SELECT has_table_privilege(current_user, 'audit_log', :p)"), {"p": privilege}
            ).scalar_one()
            for privilege in ("INSERT", "SELECT", "UPDATE", "DELETE", "TRUNCATE")
        }
    assert granted == {"INSERT": True, "SELECT": True, "UPDATE": False, "DELETE": False, "TRUNCATE": False}


def test_the_trigger_refuses_even_when_privileges_are_given_back(
    pg_engine: Engine, postgres_url: str
) -> None:
    audit = AuditService(create_session_factory(pg_engine), "key")
    audit.record_event(Actor.system(), "test.event")
    with pg_engine.begin() as connection:
        connection.execute(text("GRANT UPDATE, DELETE, TRUNCATE ON audit_log TO CURRENT_USER"))

    for statement in ("UPDATE audit_log SET reason = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), pg_engine.begin() as connection:
            connection.execute(text(statement))


def _append_many(url: str, n: int) -> None:
    os.environ["TRIAGE_DATABASE_URL"] = url
    get_settings.cache_clear()
    engine = create_db_engine(url)
    audit = AuditService(create_session_factory(engine), "shared-key")
    for i in range(n):
        audit.record_event(Actor.system(), "test.process_append", details={"pid": os.getpid(), "i": i})
    engine.dispose()


def test_appends_from_several_processes_stay_gapless(pg_engine: Engine, postgres_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_append_many, args=(postgres_url, 15)) for _ in range(3)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)

    assert [p.exitcode for p in processes] == [0, 0, 0]
    result = AuditService(create_session_factory(pg_engine), "shared-key").verify()
    assert (result.ok, result.checked) == (True, 45)
