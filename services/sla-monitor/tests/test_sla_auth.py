"""Every admin route of sla-monitor, as the service builds them, needs a token and its scope."""

from __future__ import annotations

import pytest
from sla_fixtures import Rig

from sla_monitor.config import SERVICE, SlaSettings
from sla_monitor.wiring import build
from switchboard_runtime import kafka
from switchboard_runtime.host import Resources, service_app
from switchboard_runtime.testing import auth

pytestmark = pytest.mark.integration


async def test_every_route_answers_401_403_or_serves_in_production_mode(rig: Rig) -> None:
    settings = SlaSettings(**auth.production_settings())
    producer = kafka.make_producer(settings.kafka, "sla-auth-test")  # never started
    resources = Resources(settings, rig.engine, rig.sessions, producer, rig.clock)
    app = service_app(SERVICE, settings, build(resources))
    walked = await auth.assert_every_route_guarded(app)
    assert walked >= 5
