"""Every admin route of profile-lookup, as the service builds them, needs a token and its
scope; the scopes keep reading PII apart from writing, importing, merging and erasing, and reading
the audit trail apart from all of them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from profile_lookup.config import SERVICE, ProfilesSettings
from profile_lookup.wiring import build
from switchboard_runtime import db, kafka
from switchboard_runtime.auth import Scope
from switchboard_runtime.clock import SYSTEM_CLOCK
from switchboard_runtime.host import Resources, service_app
from switchboard_runtime.testing import auth


@asynccontextmanager
async def production_app(engine: AsyncEngine) -> AsyncIterator[FastAPI]:
    """The app as the host builds it in production mode, on `engine`'s database."""
    settings = ProfilesSettings(**auth.production_settings())
    producer = kafka.make_producer(settings.kafka, client_id="profiles-auth-test")
    resources = Resources(settings, engine, db.make_sessionmaker(engine), producer, SYSTEM_CLOCK)
    try:
        yield service_app(SERVICE, settings, build(resources))
    finally:
        await producer.stop()


@pytest.mark.integration
async def test_every_route_answers_401_403_or_serves_in_production_mode(
    engine: AsyncEngine,
) -> None:
    async with production_app(engine) as app:
        walked = await auth.assert_every_route_guarded(app)
    assert walked >= 12


async def test_each_kind_of_action_has_its_own_scope() -> None:
    settings = ProfilesSettings(**auth.production_settings())
    async with production_app(db.engine_from(settings)) as app:
        scopes = auth.route_scopes(app)
    assert scopes[("GET", "/customers/{customer_id}")] == [Scope.CUSTOMERS_READ]
    assert scopes[("GET", "/lookup")] == [Scope.CUSTOMERS_IDENTIFY]
    assert scopes[("PATCH", "/customers/{customer_id}")] == [Scope.CUSTOMERS_WRITE]
    assert scopes[("POST", "/import")] == [Scope.CUSTOMERS_IMPORT]
    assert scopes[("POST", "/customers/{customer_id}/merge")] == [Scope.CUSTOMERS_MERGE]
    assert scopes[("POST", "/customers/{customer_id}/erase")] == [Scope.CUSTOMERS_ERASE]
    assert scopes[("GET", "/admin/audit")] == [Scope.AUDIT_READ]
