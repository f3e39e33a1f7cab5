"""Relational persistence: engine and sessions, typed tables, named Alembic migrations."""
