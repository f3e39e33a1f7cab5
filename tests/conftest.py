"""Shared fixtures: an isolated TRIAGE_HOME and settings, and database URLs for SQLite and PostgreSQL.

``database_url`` is parametrized: every test that uses it runs on SQLite, and again on PostgreSQL (marker
``postgres``, in a fresh schema of its own) when ``TRIAGE_TEST_POSTGRES_URL`` points at a reachable server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from triage.config import Settings, get_settings
from triage.db.engine import create_db_engine, create_session_factory, normalize_database_url
from triage.db.migrate import upgrade_database

POSTGRES_ENV = "TRIAGE_TEST_POSTGRES_URL"


@pytest.fixture
def triage_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "triage-home"
    home.mkdir()
    monkeypatch.setenv("TRIAGE_HOME", str(home))
    monkeypatch.setenv("TRIAGE_ENVIRONMENT", "test")
    monkeypatch.delenv("TRIAGE_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()


@pytest.fixture
def settings(triage_home: Path) -> Settings:
    return get_settings()


@cache
def postgres_unavailable_reason() -> str | None:
    """Why PostgreSQL tests are skipped, or None when the server is reachable (checked once per run)."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        return f"{POSTGRES_ENV} is not set"
    engine = create_db_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        return f"PostgreSQL at {POSTGRES_ENV} is not reachable: {type(exc).__name__}"
    finally:
        engine.dispose()
    return None


@pytest.fixture
def postgres_url(triage_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh, empty schema, dropped after the test."""
    reason = postgres_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    base = normalize_database_url(os.environ[POSTGRES_ENV])
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_db_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    rendered = url.render_as_string(hide_password=False)
    monkeypatch.setenv("TRIAGE_DATABASE_URL", rendered)
    get_settings.cache_clear()
    try:
        yield rendered
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, triage_home: Path) -> str:
    """An empty database: the SQLite file under TRIAGE_HOME, or a fresh PostgreSQL schema."""
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return get_settings().resolved_database_url


@pytest.fixture
def migrated_url(database_url: str) -> str:
    upgrade_database(database_url)
    return database_url


@pytest.fixture
def db_engine(migrated_url: str) -> Iterator[Engine]:
    engine = create_db_engine(migrated_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(db_engine: Engine) -> sessionmaker[Session]:
    return create_session_factory(db_engine)
