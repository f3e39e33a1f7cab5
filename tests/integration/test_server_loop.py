"""The server's event loop and the database under it: the loop's worker threads are as many as promised
(asyncio's default would be 6 on two cores); a SQLite file's connections are pooled with the pragmas every
transaction relies on; that many threads writing at once keep the audit chain whole."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import uvicorn
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from triage.config import Settings
from triage.core.actors import Actor
from triage.db.engine import create_db_engine, create_session_factory, read_snapshot, unit_of_work
from triage.domain.audit.services import AuditService
from triage.serving import EXECUTOR_THREADS, event_loop, uvicorn_options


def test_the_server_loop_runs_as_many_blocking_steps_at_once_as_it_has_threads() -> None:
    # Every call waits for all the others: with fewer threads than calls the barrier times out.
    barrier = threading.Barrier(EXECUTOR_THREADS, timeout=20)

    async def all_at_once() -> set[str]:
        def step() -> str:
            barrier.wait()
            return threading.current_thread().name

        return set(await asyncio.gather(*(asyncio.to_thread(step) for _ in range(EXECUTOR_THREADS))))

    loop = event_loop()
    try:
        names = loop.run_until_complete(all_at_once())
    finally:
        loop.close()
    assert len(names) == EXECUTOR_THREADS
    assert all(name.startswith("triage-worker") for name in names)


def test_uvicorn_is_given_the_server_loop(tmp_path: Path) -> None:
    config = uvicorn.Config("triage.app:create_app", **uvicorn_options(Settings(home=tmp_path)))
    assert config.get_loop_factory() is event_loop


def test_sqlite_connections_are_pooled_in_wal_mode_with_normal_sync(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'pooled.db'}")
    sessions = create_session_factory(engine)
    try:
        seen = []
        for _ in range(3):
            with unit_of_work(sessions) as session:
                connection = session.connection()
                seen.append(connection.connection.dbapi_connection)
                journal = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
                synchronous = connection.exec_driver_sql("PRAGMA synchronous").scalar()
                foreign_keys = connection.exec_driver_sql("PRAGMA foreign_keys").scalar()
        assert seen[0] is seen[1] is seen[2]  # one connection, reused: not opened and closed per transaction
        assert (journal, synchronous, foreign_keys) == ("wal", 1, 1)  # synchronous 1 is NORMAL
        with read_snapshot(sessions) as session:
            assert session.connection().exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        engine.dispose()


def test_many_threads_writing_at_once_keep_the_audit_chain_gapless(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    """As many writers as the server has threads, at once: every append lands, the chain verifies (on SQLite
    they queue on the engine's write lock; on PostgreSQL on the head row's lock)."""
    audit = AuditService(sessions, settings)
    start = threading.Barrier(EXECUTOR_THREADS, timeout=20)

    def writer(n: int) -> None:
        start.wait()
        for i in range(2):
            audit.record_event(Actor.system(), "test.appended", details={"writer": n, "i": i})

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(EXECUTOR_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    result = audit.verify()
    assert (result.ok, result.checked, result.head_seq) == (True, 2 * EXECUTOR_THREADS, 2 * EXECUTOR_THREADS)


def test_a_write_opened_inside_another_in_the_same_thread_does_not_hang_on_the_write_lock(
    tmp_path: Path,
) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'nested.db'}")
    sessions = create_session_factory(engine)
    try:
        with unit_of_work(sessions) as outer:
            outer.execute(text("CREATE TABLE t (x INTEGER)"))
            outer.commit()  # the outer transaction is over; the lock is still the outer unit's
            with unit_of_work(sessions) as inner:
                inner.execute(text("INSERT INTO t VALUES (1)"))
        with read_snapshot(sessions) as session:
            assert session.execute(text("SELECT count(*) FROM t")).scalar() == 1
    finally:
        engine.dispose()
