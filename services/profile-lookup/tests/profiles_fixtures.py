"""Fixtures of profile-lookup's tests: settings, sessions, the enricher and the admin API,
all on the real database (a fresh one per test, from the pytest plugin).

They live here rather than in conftest.py, which only re-exports them: every test
directory has a conftest.py, and mypy cannot check two modules of the same name."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from profile_lookup.api import make_router
from profile_lookup.config import ProfilesSettings
from profile_lookup.consumer import customers_service
from profile_lookup.customers import Customers
from profile_lookup.service import Enricher
from switchboard_runtime import db
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
async def sessions(settings: ProfilesSettings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = db.engine_from(settings)
    yield db.make_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
def enricher(settings: ProfilesSettings) -> Enricher:
    return Enricher.from_settings(settings)


@pytest.fixture
def customers(settings: ProfilesSettings, sessions: async_sessionmaker[AsyncSession]) -> Customers:
    return customers_service(settings, sessions)


@pytest.fixture
async def client(
    settings: ProfilesSettings, customers: Customers
) -> AsyncIterator[httpx.AsyncClient]:
    router = make_router(
        lambda: customers,
        chunk_rows=settings.import_chunk_rows,
        import_max_bytes=settings.import_max_bytes,
    )
    app = create_app("profile-lookup", {}, [router], auth=auth.authenticator())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://profiles.test", headers=auth.HEADERS
    ) as http:
        yield http
