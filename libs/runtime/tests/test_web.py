"""The operations endpoints every service serves."""

from __future__ import annotations

import httpx

from switchboard_runtime.auth import Authenticator, AuthSettings
from switchboard_runtime.web import create_app

OPEN = Authenticator(AuthSettings())


async def ok() -> str | None:
    return None


async def broken() -> str | None:
    return "database: connection refused"


async def failing() -> str | None:
    raise ConnectionRefusedError("no route")


async def get(app: object, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path)


async def test_ready_when_every_check_passes() -> None:
    response = await get(create_app("demo", {"database": ok}, auth=OPEN), "/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "problems": {}}


async def test_not_ready_names_each_failing_check() -> None:
    app = create_app("demo", {"database": broken, "broker": failing, "consumer": ok}, auth=OPEN)
    response = await get(app, "/readyz")
    assert response.status_code == 503
    problems = response.json()["problems"]
    assert problems["database"] == "database: connection refused"
    assert problems["broker"].startswith("ConnectionRefusedError")
    assert "consumer" not in problems


async def test_health_and_metrics() -> None:
    app = create_app("demo", {}, auth=OPEN)
    assert (await get(app, "/healthz")).json()["status"] == "ok"
    metrics = await get(app, "/metrics")
    assert metrics.status_code == 200
    assert "switchboard_consumer_records_total" in metrics.text
