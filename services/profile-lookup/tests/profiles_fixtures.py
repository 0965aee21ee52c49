"""Fixtures of profile-lookup's tests: settings, sessions, the enricher and the admin API,
all on the real database (a fresh one per test, from the pytest plugin).

They live here rather than in conftest.py, which only re-exports them: every test
directory has a conftest.py, and mypy cannot check two modules of the same name."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from profile_lookup.config import SERVICE, ProfilesSettings
from profile_lookup.service import Enricher
from profile_lookup.wiring import build
from switchboard_runtime import db, kafka
from switchboard_runtime.clock import SYSTEM_CLOCK
from switchboard_runtime.host import Resources
from switchboard_runtime.settings import KafkaSettings
from switchboard_runtime.testing import auth
from switchboard_runtime.web import create_app


@pytest.fixture
def settings(
    database_url: str, kafka_settings: KafkaSettings, topic_suffix: str
) -> ProfilesSettings:
    return ProfilesSettings(
        database_url=database_url,
        kafka=kafka_settings.model_copy(update={"max_batch_records": 500}),
        topic_suffix=topic_suffix,
        consumer_group=f"profile-lookup{topic_suffix}",
        default_region="GB",
    )


@pytest.fixture
async def engine(settings: ProfilesSettings) -> AsyncIterator[AsyncEngine]:
    engine = db.engine_from(settings)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return db.make_sessionmaker(engine)


@pytest.fixture
def enricher(settings: ProfilesSettings) -> Enricher:
    return Enricher.from_settings(settings)


@pytest.fixture
async def client(
    settings: ProfilesSettings, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[httpx.AsyncClient]:
    """The admin API as `build` wires it (the routes hold the sessions from the start)."""
    producer = kafka.make_producer(settings.kafka, client_id="profiles-test")
    service = build(Resources(settings, engine, sessions, producer, SYSTEM_CLOCK))
    app = create_app(SERVICE.name, {}, service.routers, auth=auth.authenticator())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://profiles.test", headers=auth.HEADERS
    ) as http:
        yield http
    await producer.stop()
