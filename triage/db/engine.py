"""Engines and sessions for SQLite (the embedded default) and PostgreSQL, behind the same code.

SQLite runs in WAL mode with foreign keys and a busy timeout, and every transaction starts with
``BEGIN IMMEDIATE``: writers queue for the one write lock at the start of a transaction instead of failing
half-way with "database is locked", which is what keeps audit sequence numbers gapless across processes.
``synchronous=NORMAL`` (WAL's usual setting) makes a commit durable against a crash of the process, and
against power loss at the next checkpoint, without an fsync per commit.

Within one process, SQLite writers also queue on a lock of the engine before their ``BEGIN IMMEDIATE``
(``unit_of_work``): SQLite's busy handler makes a waiting writer poll with growing sleeps, so with dozens of
worker threads writing at once a commit waited hundreds of milliseconds for a lock free most of that time.
The busy timeout still orders writers of different processes.

Connections to a SQLite file are pooled, not opened per transaction: closing the last connection to a WAL
database checkpoints it and removes the WAL file, which cost about a third of a triage's persist step when
every transaction opened and closed its own connection.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool, QueuePool

from triage.core.errors import UpstreamUnavailable

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_POOL_SIZE = 8
"""Connections kept open to a SQLite file (more are opened when more threads need one, and closed after)."""
SQLITE_POOL_OVERFLOW = 56
READ_ONLY_OPTION = "triage_read_only"
_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()


def normalize_database_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean the psycopg 3 driver; anything else is left alone."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def is_sqlite(url: str) -> bool:
    return make_url(normalize_database_url(url)).get_backend_name() == "sqlite"


def create_db_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for ``url`` configured for this service (see the module docstring for SQLite)."""
    url = normalize_database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        on_disk = bool(parsed.database) and parsed.database != ":memory:"
        if on_disk:
            Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)
        pooling: dict[str, Any] = (
            # A connection is used by one thread at a time (checked out, then returned), never shared.
            {"poolclass": QueuePool, "pool_size": SQLITE_POOL_SIZE, "max_overflow": SQLITE_POOL_OVERFLOW}
            if on_disk
            else {"poolclass": NullPool}
        )
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            **pooling,
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _configure_sqlite(engine: Engine) -> None:
    # Reentrant: a write opened inside another in the same thread behaves as before (SQLite's busy timeout).
    _WRITE_LOCKS[engine] = threading.RLock()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module so that "begin" below decides.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A read snapshot does not need the write lock; WAL readers never block writers.
        read_only = connection.get_execution_options().get(READ_ONLY_OPTION, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def create_session_factory(bind: Engine | str) -> sessionmaker[Session]:
    """Sessions on ``bind``: an engine, or a database URL to build one for (see ``create_db_engine``)."""
    engine = create_db_engine(bind) if isinstance(bind, str) else bind
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def unit_of_work(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: committed on success, rolled back on any error.

    A database that cannot be reached or refuses a write surfaces as ``UpstreamUnavailable`` (503);
    ``IntegrityError`` is left to the caller, which knows what a unique violation means for it.
    """
    with _writer_turn(sessions):
        session = sessions()
        try:
            yield session
            session.commit()
        except IntegrityError:
            session.rollback()
            raise
        except DBAPIError as exc:
            session.rollback()
            raise UpstreamUnavailable("the database is unavailable or refused the write") from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()


def _writer_turn(sessions: sessionmaker[Session]) -> AbstractContextManager[object]:
    """The engine's in-process write lock (SQLite files), or nothing (PostgreSQL locks rows itself)."""
    bind = sessions.kw.get("bind")
    lock = _WRITE_LOCKS.get(bind) if isinstance(bind, Engine) else None
    return lock if lock is not None else nullcontext()


@contextmanager
def read_snapshot(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A read-only transaction that sees one consistent snapshot (REPEATABLE READ on PostgreSQL, a deferred
    WAL read transaction on SQLite), so a multi-statement read such as a chain verification is coherent."""
    session = sessions()
    try:
        options: dict[str, Any] = {READ_ONLY_OPTION: True}
        bind = session.get_bind()
        if bind.dialect.name == "postgresql":
            options["isolation_level"] = "REPEATABLE READ"
        session.connection(execution_options=options)
        yield session
        session.rollback()
    except DBAPIError as exc:
        session.rollback()
        raise UpstreamUnavailable("the database is unavailable") from exc
    finally:
        session.close()
