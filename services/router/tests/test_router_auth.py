"""Every admin route of the router, as the service builds them, needs a token and its scope."""

from __future__ import annotations

import pytest

from router.config import SERVICE, RouterSettings
from router.wiring import build
from switchboard_runtime import db, kafka
from switchboard_runtime.host import Resources, service_app
from switchboard_runtime.testing import ManualClock, auth


@pytest.mark.integration
async def test_every_route_answers_401_403_or_serves_in_production_mode(
    database_url: str,
) -> None:
    settings = RouterSettings(
        **auth.production_settings(), pseudonym_key="a-real-pseudonym-key-of-length"
    )
    engine = db.make_engine(database_url)  # a test database: routes with the scope serve
    producer = kafka.make_producer(settings.kafka, "router-auth-test")  # never started
    resources = Resources(settings, engine, db.make_sessionmaker(engine), producer, ManualClock())
    try:
        app = service_app(SERVICE, settings, build(resources))
        walked = await auth.assert_every_route_guarded(app)
    finally:
        await producer.stop()
        await engine.dispose()
    assert walked >= 5
