"""Tokens for tests, and a check that walks an app's whole OpenAPI route table.

Fixtures give their app `authenticator()` and send `HEADERS`, so tests exercise the
real authentication path with a token that holds every scope.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi import FastAPI

from switchboard_runtime.auth import (
    DEFAULT_PUBLIC_PATHS,
    IMPLIED_BY,
    ApiToken,
    Authenticator,
    AuthSettings,
    Scope,
    token_hash,
)
from switchboard_runtime.settings import KafkaSettings

TOKEN = "test-token-with-every-scope-0123456789abcdef"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


def scoped_token(scopes: frozenset[Scope], name: str = "test") -> tuple[ApiToken, str]:
    """An API token holding exactly `scopes`, and the bearer value to send."""
    bearer = _bearer(scopes)
    return ApiToken(name=name, sha256=token_hash(bearer), scopes=scopes), bearer


def _bearer(scopes: frozenset[Scope]) -> str:
    return "test-token-" + "+".join(sorted(scopes))


def walking_tokens() -> list[ApiToken]:
    """For each scope, a token holding only it and one holding every other scope (but
    those that include it)."""
    tokens = []
    for scope in Scope:
        others = frozenset(Scope) - {scope} - IMPLIED_BY.get(scope, frozenset())
        for held, name in ((frozenset({scope}), "only"), (others, "all-but")):
            tokens.append(scoped_token(held, f"{name}-{scope.value.replace(':', '-')}")[0])
    return tokens


def settings(*extra: ApiToken) -> AuthSettings:
    every = ApiToken(name="test-all", sha256=token_hash(TOKEN), scopes=frozenset(Scope))
    return AuthSettings(tokens=(every, *extra))


def authenticator(*extra: ApiToken) -> Authenticator:
    return Authenticator(settings(*extra))


def production_settings() -> dict[str, Any]:
    """Keyword arguments that make a service's settings pass the production checks, with
    the walking tokens; nothing here is ever connected to."""
    return {
        "environment": "production",
        "database_url": "postgresql+asyncpg://svc:a-real-db-password@db.invalid/switchboard",
        "kafka": KafkaSettings(
            security_protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-512",
            sasl_username="svc",
            sasl_password="a-real-kafka-password",
        ),
        "auth": AuthSettings(tokens=tuple(walking_tokens())),
    }


def route_scopes(app: FastAPI) -> dict[tuple[str, str], list[str]]:
    """(method, path) -> the scopes its OpenAPI entry requires ([] for a public route)."""
    table = {}
    for path, item in app.openapi()["paths"].items():
        for method, operation in item.items():
            required = [s for req in operation.get("security", []) for s in req.values()]
            table[(method.upper(), path)] = [scope for scopes in required for scope in scopes]
    return table


async def assert_every_route_guarded(
    app: FastAPI, public: frozenset[str] = frozenset(DEFAULT_PUBLIC_PATHS)
) -> int:
    """With `walking_tokens()` in the app's settings, every route but `public` answers 401
    without a token or with an unknown one, 403 with a token lacking its one scope, and
    neither with a token holding it (or one that includes it, `IMPLIED_BY`). Returns how
    many routes were walked."""
    table = route_scopes(app)
    walked = 0
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://auth.test") as client:
        for (method, path), scopes in sorted(table.items()):
            url = re.sub(r"\{[^}]+\}", "walk-1", path)
            if path in public:
                assert scopes == [], f"{method} {path} is public yet declares {scopes}"
                continue
            assert len(scopes) == 1, f"{method} {path} declares no single scope: {scopes}"
            needed = Scope(scopes[0])
            await _expect(client, method, url, None, 401)
            await _expect(client, method, url, "test-token-bogus", 401)
            others = frozenset(Scope) - {needed} - IMPLIED_BY.get(needed, frozenset())
            await _expect(client, method, url, _bearer(others), 403, needed)
            await _expect(client, method, url, _bearer(frozenset({needed})), None)
            walked += 1
    return walked


async def _expect(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    bearer: str | None,
    status: int | None,
    scope: Scope | None = None,
) -> None:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    response = await client.request(method, url, headers=headers)
    where = f"{method} {url} with {'no token' if bearer is None else 'a token'}"
    if status is None:
        assert response.status_code not in (401, 403), f"{where}: {response.text}"
        return
    assert response.status_code == status, f"{where}: {response.status_code} {response.text}"
    body: Any = response.json()
    assert isinstance(body.get("detail"), str), f"{where}: {body}"
    assert body["detail"], f"{where}: empty message"
    challenge = response.headers.get("www-authenticate", "")
    assert challenge.startswith("Bearer "), f"{where}: WWW-Authenticate {challenge!r}"
    if scope is not None:
        assert scope.value in body["detail"], f"{where}: {body}"
        assert f'scope="{scope.value}"' in challenge, f"{where}: {challenge}"
