"""Every admin route of sla-monitor, as the service builds them, needs a token and its scope."""

from __future__ import annotations

import pytest
from sla_fixtures import Rig

from sla_monitor.config import SlaSettings
from sla_monitor.consumer import build_service
from switchboard_runtime.host import service_app
from switchboard_runtime.testing import auth

pytestmark = pytest.mark.integration


async def test_every_route_answers_401_403_or_serves_in_production_mode(rig: Rig) -> None:
    settings = SlaSettings(**auth.production_settings())
    app = service_app(build_service(settings, rig.policies, rig.sessions, None))
    walked = await auth.assert_every_route_guarded(app)
    assert walked >= 5
