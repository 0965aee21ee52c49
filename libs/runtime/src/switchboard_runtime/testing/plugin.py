"""pytest plugin: the real broker and database, started once per test session.

Fixtures:
- `stack`: the embedded Tansu broker and PostgreSQL (session scope). If either cannot
  start, every test that needs it errors with the reason: nothing is skipped.
- `kafka_settings`: `KafkaSettings` pointing at the broker.
- `database_url`: a fresh database per test, cloned from a template that has every
  service's migrations applied once (ini option `switchboard_migrations`).
- `topic_suffix`: a fresh suffix per test, to give each test its own topics and group.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from switchboard_runtime.embedded import Broker, Postgres
from switchboard_runtime.migrations import upgrade
from switchboard_runtime.settings import KafkaSettings

TEMPLATE_DB = "switchboard_template"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "switchboard_migrations",
        "DIR:SCHEMA pairs: each service's alembic directory and the schema it owns",
        type="linelist",
        default=[],
    )


class Stack:
    """The running embedded servers, shared by the whole session."""

    def __init__(self, broker: Broker, postgres: Postgres) -> None:
        self.broker = broker
        self.postgres = postgres

    @property
    def bootstrap(self) -> str:
        return self.broker.bootstrap

    def url(self, database: str) -> str:
        return self.postgres.dsn_for(database)

    def raw_url(self, database: str) -> str:
        """The same URL for asyncpg itself (no SQLAlchemy driver suffix)."""
        return self.url(database).replace("+asyncpg", "")


@pytest.fixture(scope="session")
def stack(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("stack")
    broker = Broker(log_path=logs / "broker.log")
    postgres = Postgres()
    try:
        broker.start()
        postgres.start()
        _prepare_template(pytestconfig, postgres)
        yield Stack(broker, postgres)
    finally:
        postgres.cleanup()
        broker.stop()


def _prepare_template(config: pytest.Config, postgres: Postgres) -> None:
    asyncio.run(execute_admin(postgres.dsn_for("postgres"), f'CREATE DATABASE "{TEMPLATE_DB}"'))
    for entry in config.getini("switchboard_migrations"):
        directory, _, schema = str(entry).rpartition(":")
        path = config.rootpath / directory
        if not (path / "env.py").is_file():
            raise pytest.UsageError(f"switchboard_migrations: {path} has no env.py")
        upgrade(postgres.dsn_for(TEMPLATE_DB), path, schema)


async def execute_admin(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture
def kafka_settings(stack: Stack) -> KafkaSettings:
    return KafkaSettings(bootstrap=stack.bootstrap, partitions=3)


@pytest.fixture
def topic_suffix() -> str:
    return f".t{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def database_url(stack: Stack) -> AsyncIterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = stack.url("postgres")
    await execute_admin(admin, f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE_DB}"')
    yield stack.url(name)
    await execute_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
