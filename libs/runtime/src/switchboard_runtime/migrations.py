"""Alembic migrations, one history per service schema.

A service keeps `migrations/` (alembic's `versions/` plus a two-line `env.py` that
calls `run_env`). The revisions every service shares (the processed-event ledger, 0001
and 0003) live once, in `ledger_versions/`, and are part of each history. `upgrade`
applies them (`downgrade` takes them back by hand); the version table lives in the
service's own schema, so no service reads or writes another's.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from alembic import command, context, op
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine

from switchboard_runtime.db import LEDGER_DOWNGRADE, LEDGER_UPGRADE

LEDGER_VERSIONS = Path(__file__).parent / "ledger_versions"
"""Revisions every service's history shares (the processed-event ledger), one copy."""


def _config(database_url: str, migrations_dir: Path, schema: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("path_separator", "os")
    config.set_main_option(
        "version_locations",
        os.pathsep.join([str(migrations_dir / "versions"), str(LEDGER_VERSIONS)]),
    )
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["schema"] = schema
    return config


def upgrade(database_url: str, migrations_dir: Path, schema: str, revision: str = "head") -> None:
    """Bring `schema` up to `revision`; safe to run again (and from several processes)."""
    command.upgrade(_config(database_url, migrations_dir, schema), revision)


def downgrade(database_url: str, migrations_dir: Path, schema: str, revision: str) -> None:
    """Take `schema` back down to `revision` (a rollback by hand; each revision's
    `downgrade` says what it drops)."""
    command.downgrade(_config(database_url, migrations_dir, schema), revision)


def run_env() -> None:
    """Body of every service's `migrations/env.py`."""
    config = context.config
    schema: str = config.attributes["schema"]
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None, "sqlalchemy.url is set by upgrade()"

    def migrate(connection: Connection) -> None:
        # One migrator at a time per schema: replicas may start together.
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": schema})
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        context.configure(
            connection=connection,
            version_table_schema=schema,
            transaction_per_migration=False,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def main() -> None:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(migrate)
        finally:
            await engine.dispose()

    asyncio.run(main())


def _schema() -> str:
    schema: str = context.config.attributes["schema"]
    return schema


def create_ledger() -> None:
    """Revision 0001 of every service: the processed-event ledger, keyed on the event id."""
    schema = _schema()
    op.execute(
        f'CREATE TABLE "{schema}".processed_events ('
        " event_id text PRIMARY KEY,"
        " processed_at timestamptz NOT NULL DEFAULT now())"
    )


def drop_ledger() -> None:
    op.execute(f'DROP TABLE "{_schema()}".processed_events')


def key_ledger_by_source() -> None:
    """Revision 0003 of every service: the ledger keyed on (type, source, id)."""
    for statement in LEDGER_UPGRADE:
        op.execute(statement.format(schema=_schema()))


def unkey_ledger_by_source() -> None:
    for statement in LEDGER_DOWNGRADE:
        op.execute(statement.format(schema=_schema()))
