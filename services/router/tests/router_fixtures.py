"""Fixtures of the router's tests: on the real broker and database (`setup`, `run_router`),
or on the in-memory repository (`fake`).

They live here rather than in conftest.py, which only re-exports them: every test
directory has a conftest.py, and mypy cannot check two modules of the same name."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from router_fakes import FakeRoutingRepository
from router_stack import RouterSetup, RunnerFactory, runner_factory
from router_support import MONDAY_10_LONDON, policy_dict, policy_yaml
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from router.api import make_router
from router.config import RouterSettings
from router.policies import RoutingPolicies, holder, vendors
from router.service import Router
from router.staffing import Staffing
from router.wiring import build_router
from switchboard_events import ContactEnriched, ContactLifecycle, dlq
from switchboard_runtime import db, kafka
from switchboard_runtime.migrations import downgrade, upgrade
from switchboard_runtime.runner import Output, Record
from switchboard_runtime.settings import KafkaSettings
from switchboard_runtime.testing import ManualClock, auth
from switchboard_runtime.testing.plugin import Stack
from switchboard_runtime.web import create_app

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


@dataclass(frozen=True)
class EmptyDatabase:
    """A database of its own, for a test that migrates it step by step."""

    url: str
    engine: AsyncEngine

    async def migrate(self, revision: str = "head") -> None:
        await asyncio.to_thread(upgrade, self.url, MIGRATIONS, "routing", revision)

    async def downgrade(self, revision: str) -> None:
        await asyncio.to_thread(downgrade, self.url, MIGRATIONS, "routing", revision)

    async def upgrade_over(self, revision: str, *rows: tuple[str, Mapping[str, Any]]) -> None:
        """Migrate to `revision`, store `rows` (statements and their parameters) as the
        router did then, in one transaction, and upgrade over them to the head."""
        await self.migrate(revision)
        async with self.engine.begin() as conn:
            for statement, params in rows:
                await conn.execute(text(statement), params)
        await self.migrate()


@pytest.fixture
async def empty_database(stack: Stack) -> AsyncIterator[EmptyDatabase]:
    """A new database without the router's schema, dropped after the test."""
    async with stack.new_database(template=None) as url:
        engine = db.make_engine(url)
        try:
            yield EmptyDatabase(url, engine)
        finally:
            await engine.dispose()


@pytest.fixture
def policy_path(tmp_path: Path) -> Path:
    path = tmp_path / "routing.yaml"
    path.write_text(policy_yaml(policy_dict()))
    return path


@pytest.fixture
async def setup(
    kafka_settings: KafkaSettings, database_url: str, topic_suffix: str, policy_path: Path
) -> AsyncIterator[RouterSetup]:
    settings = RouterSettings(
        database_url=database_url,
        kafka=kafka_settings.model_copy(update={"max_batch_records": 100}),
        topic_suffix=topic_suffix,
        consumer_group=f"router{topic_suffix}",
        policy_path=policy_path,
        policy_poll_seconds=0.1,
    )
    topics = [settings.enriched_topic, settings.lifecycle_topic, settings.decisions_topic]
    # As the service does at start: Apache Kafka does not create a topic on first write.
    vendor_topics = [settings.vendor_topic(v) for v in vendors(holder(policy_path).current)]
    await kafka.create_topics(kafka_settings, [*topics, *map(dlq, topics[:2]), *vendor_topics])
    engine = db.make_engine(database_url)
    yield RouterSetup(settings, kafka_settings, policy_path, engine, db.make_sessionmaker(engine))
    await engine.dispose()


@pytest.fixture
def run_router(setup: RouterSetup) -> RunnerFactory:
    return runner_factory(setup)


@pytest.fixture
def policies(setup: RouterSetup) -> RoutingPolicies:
    return holder(setup.policy_path)


@pytest.fixture
async def client(setup: RouterSetup, policies: RoutingPolicies) -> AsyncIterator[httpx.AsyncClient]:
    """The router's admin API on `setup`'s database, with a token of every scope."""
    router = setup.router(policies)
    admin = make_router(
        router, setup.sessions, recent_limit=10, staffing=Staffing(router, 1800, 0.85)
    )
    app = create_app("router", {}, [admin], auth=auth.authenticator())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://router", headers=auth.HEADERS
    ) as http:
        yield http


@dataclass
class FakeSetup:
    """A router on the in-memory repository, deciding at Monday 10:00 London."""

    router: Router
    store: FakeRoutingRepository
    clock: ManualClock

    async def handle(self, events: Sequence[ContactEnriched | ContactLifecycle]) -> list[Output]:
        """One batch, its records at offsets 0.. of topic `t` (as `run_batch` numbers them)."""
        batch = [Record("t", 0, i, None, 0, e) for i, e in enumerate(events)]
        return list(await self.router.route(batch, self.store))


@pytest.fixture
def fake(policy_path: Path) -> FakeSetup:
    clock = ManualClock(MONDAY_10_LONDON)
    router = build_router(RouterSettings(policy_path=policy_path), holder(policy_path), clock)
    return FakeSetup(router, FakeRoutingRepository(now=clock.now), clock)
