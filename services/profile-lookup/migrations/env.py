"""Alembic entry point; the schema and URL come from `switchboard_runtime.migrations.upgrade`."""

from switchboard_runtime.migrations import run_env

run_env()
