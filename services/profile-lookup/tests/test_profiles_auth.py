"""Every admin route of profile-lookup, as the service builds them, needs a token and its
scope; the scopes keep reading PII apart from writing, importing, merging and erasing."""

from __future__ import annotations

from profile_lookup.config import ProfilesSettings
from profile_lookup.consumer import build
from switchboard_runtime.auth import Scope
from switchboard_runtime.host import service_app
from switchboard_runtime.testing import auth


async def test_every_route_answers_401_403_or_serves_in_production_mode() -> None:
    app = service_app(build(ProfilesSettings(**auth.production_settings())))
    walked = await auth.assert_every_route_guarded(app)
    assert walked >= 11


def test_each_kind_of_action_has_its_own_scope() -> None:
    app = service_app(build(ProfilesSettings(**auth.production_settings())))
    scopes = auth.route_scopes(app)
    assert scopes[("GET", "/customers/{customer_id}")] == [Scope.CUSTOMERS_READ]
    assert scopes[("GET", "/lookup")] == [Scope.CUSTOMERS_READ]
    assert scopes[("PATCH", "/customers/{customer_id}")] == [Scope.CUSTOMERS_WRITE]
    assert scopes[("POST", "/import")] == [Scope.CUSTOMERS_IMPORT]
    assert scopes[("POST", "/customers/{customer_id}/merge")] == [Scope.CUSTOMERS_MERGE]
    assert scopes[("POST", "/customers/{customer_id}/erase")] == [Scope.CUSTOMERS_ERASE]
