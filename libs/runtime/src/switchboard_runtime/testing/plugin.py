"""pytest plugin: the real broker and database, started once per test session.

The broker is Tansu (embedded, the default) or Apache Kafka in KRaft mode:
`pytest --broker=kafka` (or `SWITCHBOARD_TEST_BROKER=kafka`, what `make test-kafka` does).
On Kafka only the tests that use the broker or the database run: unit tests need not run
twice. If Kafka cannot be had (no Java 17+, no Maven and no KAFKA_HOME), the session
stops before the first test with a message naming what is missing.

Fixtures:
- `stack`: the broker and PostgreSQL (session scope). If either cannot start, every test
  that needs it errors with the reason: nothing is skipped.
- `kafka_settings`: `KafkaSettings` pointing at the broker, with what suits that broker
  (`client_settings`: the idempotent producer and a long-polling fetch on Kafka only).
- `kafka_pom`, `kafka_distribution`: for tests marked `kafka` that start Kafka clusters
  of their own (three brokers, SASL); those run only with `--broker=kafka`.
- `database_url`: a fresh database per test, cloned from a template that has every
  service's migrations applied once (ini option `switchboard_migrations`); a module's
  fixture gets its own with `Stack.new_database`.
- `topic_suffix`: a fresh suffix per test, to give each test its own topics and group.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from switchboard_runtime.apache_kafka import Distribution, KafkaCluster, find_distribution
from switchboard_runtime.embedded import Broker, EmbeddedError, Postgres
from switchboard_runtime.migrations import upgrade
from switchboard_runtime.settings import KafkaSettings

TEMPLATE_DB = "switchboard_template"
BROKERS = ("tansu", "kafka")
_KAFKA = pytest.StashKey[Distribution]()
TEST_SESSION: dict[str, Any] = {"session_timeout_ms": 4000, "heartbeat_interval_ms": 1000}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "switchboard_migrations",
        "DIR:SCHEMA pairs: each service's alembic directory and the schema it owns",
        type="linelist",
        default=[],
    )
    parser.addini(
        "switchboard_kafka_pom",
        "the pinned Maven definition of the Apache Kafka broker, relative to the root",
        default="deploy/kafka/pom.xml",
    )
    parser.addoption(
        "--broker",
        choices=BROKERS,
        default=os.environ.get("SWITCHBOARD_TEST_BROKER", "tansu"),
        help="the broker the integration tests run on (env SWITCHBOARD_TEST_BROKER)",
    )


def pytest_configure(config: pytest.Config) -> None:
    broker = config.getoption("--broker")
    if broker not in BROKERS:
        raise pytest.UsageError(f"SWITCHBOARD_TEST_BROKER={broker!r}: expected one of {BROKERS}")
    if broker == "kafka":
        try:
            config.stash[_KAFKA] = find_distribution(_kafka_pom(config))
        except EmbeddedError as exc:
            raise pytest.UsageError(f"--broker=kafka: {exc}") from None


def _kafka_pom(config: pytest.Config) -> Path:
    return config.rootpath / str(config.getini("switchboard_kafka_pom"))


def pytest_report_header(config: pytest.Config) -> str:
    if _KAFKA in config.stash:
        kafka = config.stash[_KAFKA]
        return f"broker: Apache Kafka {kafka.version} (KRaft, {kafka.libs})"
    return "broker: Tansu (embedded)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On Kafka, keep the tests that use the stack or are marked `kafka` (the others ran
    with `make test`); on Tansu, leave out those marked `kafka` (`make test-kafka` runs them)."""
    if _KAFKA in config.stash:
        keep = [
            item
            for item in items
            if "stack" in getattr(item, "fixturenames", ()) or item.get_closest_marker("kafka")
        ]
    else:
        keep = [item for item in items if item.get_closest_marker("kafka") is None]
    if len(keep) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in keep])
        items[:] = keep


class Stack:
    """The running embedded servers, shared by the whole session."""

    def __init__(self, broker: Broker | KafkaCluster, postgres: Postgres) -> None:
        self.broker = broker
        self.postgres = postgres

    @property
    def bootstrap(self) -> str:
        return self.broker.bootstrap

    def kafka_settings(self, **values: Any) -> KafkaSettings:
        """Client settings right for this broker (see `client_settings`), with `values`.

        The session is shorter than a service's default (`TEST_SESSION`): the embedded
        broker holds every join for half of it, and a killed member's partitions wait
        for all of it, which the suite's hundreds of groups and crash tests would pay.
        """
        return self.broker.client_settings(**(TEST_SESSION | values))

    def url(self, database: str) -> str:
        return self.postgres.dsn_for(database)

    def raw_url(self, database: str) -> str:
        """The same URL for asyncpg itself (no SQLAlchemy driver suffix)."""
        return self.url(database).replace("+asyncpg", "")

    @contextlib.asynccontextmanager
    async def new_database(
        self, prefix: str = "t", template: str | None = TEMPLATE_DB
    ) -> AsyncIterator[str]:
        """The URL of a fresh database cloned from `template` (the migrated one; None: an
        empty database), dropped after (connections left open and all)."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        admin = self.url("postgres")
        clone = f' TEMPLATE "{template}"' if template is not None else ""
        await execute_admin(admin, f'CREATE DATABASE "{name}"{clone}')
        try:
            yield self.url(name)
        finally:
            await execute_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def stack(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("stack")
    broker: Broker | KafkaCluster
    if _KAFKA in pytestconfig.stash:
        kafka = pytestconfig.stash[_KAFKA]
        broker = KafkaCluster(_kafka_pom(pytestconfig), log_dir=logs, distribution=kafka)
    else:
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


@pytest.fixture(scope="session")
def kafka_distribution(pytestconfig: pytest.Config) -> Distribution:
    """Java and the Kafka jars, for tests (marked `kafka`) that start clusters of their own."""
    return pytestconfig.stash[_KAFKA]


@pytest.fixture(scope="session")
def kafka_pom(pytestconfig: pytest.Config) -> Path:
    return _kafka_pom(pytestconfig)


@pytest.fixture
def kafka_settings(stack: Stack) -> KafkaSettings:
    return stack.kafka_settings(partitions=3)


@pytest.fixture
def topic_suffix() -> str:
    return f".t{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def database_url(stack: Stack) -> AsyncIterator[str]:
    async with stack.new_database() as url:
        yield url
