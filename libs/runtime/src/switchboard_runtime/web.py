"""The HTTP face of every service: /healthz, /readyz, /metrics, plus its admin routes.

Every admin route declares its scope with `switchboard_runtime.auth.require`; the
operations routes are open unless taken out of the auth settings' `public_paths`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from switchboard_runtime.auth import Authenticator, Scope, document_refusals, require

ReadinessCheck = Callable[[], Awaitable[str | None]]
"""Returns None when ready, else what is wrong."""

CHECK_TIMEOUT_S = 2.0


def create_app(
    name: str,
    checks: dict[str, ReadinessCheck],
    routers: Sequence[APIRouter] = (),
    version: str = "0.1.0",
    *,
    auth: Authenticator,
) -> FastAPI:
    app = FastAPI(title=f"Switchboard {name}", version=version)
    app.state.authenticator = auth

    def guard(path: str) -> list[Any]:
        return [] if path in auth.settings.public_paths else [require(Scope.OPERATIONS_READ)]

    @app.get("/healthz", tags=["operations"], dependencies=guard("/healthz"))
    async def healthz() -> dict[str, str]:
        """Liveness: the process serves HTTP."""
        return {"status": "ok", "service": name}

    @app.get("/readyz", tags=["operations"], dependencies=guard("/readyz"))
    async def readyz() -> JSONResponse:
        """Readiness: broker and database reachable, group joined, loop not stalled."""
        results = await asyncio.gather(*(_run(check) for check in checks.values()))
        problems = {key: err for key, err in zip(checks, results, strict=True) if err}
        body = {"status": "ready" if not problems else "not ready", "problems": problems}
        return JSONResponse(body, status_code=503 if problems else 200)

    @app.get("/metrics", tags=["operations"], dependencies=guard("/metrics"))
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    document_refusals(app.routes)
    for router in routers:
        document_refusals(router.routes)
        app.include_router(router)
    return app


async def _run(check: ReadinessCheck) -> str | None:
    try:
        return await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT_S:.0f} s"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:300]
