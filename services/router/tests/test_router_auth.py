"""Every admin route of the router, as the service builds them, needs a token and its scope."""

from __future__ import annotations

from router.config import RouterSettings
from router.consumer import build
from switchboard_runtime.host import service_app
from switchboard_runtime.testing import auth


async def test_every_route_answers_401_403_or_serves_in_production_mode() -> None:
    settings = RouterSettings(
        **auth.production_settings(), pseudonym_key="a-real-pseudonym-key-of-length"
    )
    app = service_app(build(settings))
    walked = await auth.assert_every_route_guarded(app)
    assert walked >= 5
