"""Bring a database to the newest schema, programmatically (bootstrap, serve and tests call this)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from triage.db.engine import create_db_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade_database(url: str, revision: str = "head") -> None:
    """Apply every pending migration to ``url``; safe to run twice and from several processes at once."""
    config = alembic_config()
    engine = create_db_engine(url)
    try:
        with engine.connect() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            connection.commit()
    finally:
        engine.dispose()


def is_up_to_date(url: str) -> bool:
    """Whether the database is at the newest revision (for readiness checks)."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    engine = create_db_engine(url)
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
            connection.rollback()
    finally:
        engine.dispose()
    return current == head
