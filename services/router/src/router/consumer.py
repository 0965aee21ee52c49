"""Wires the router into the runtime host: topics, decoders, handler, admin API, reload."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from router.api import make_router
from router.config import RouterSettings
from router.policy_store import PolicyHolder
from router.service import Router
from switchboard_events import ENRICHED_DECODER, LIFECYCLE_DECODER
from switchboard_runtime.db import engine_from, make_sessionmaker
from switchboard_runtime.host import Service
from switchboard_runtime.runner import Handler

NAME = "router"


def build_router(settings: RouterSettings, policies: PolicyHolder) -> Router:
    return Router(
        policies=policies,
        pseudonym_key=settings.pseudonym_key.get_secret_value().encode(),
        decisions_topic=settings.decisions_topic,
        open_contact_ttl=timedelta(hours=settings.open_contact_ttl_hours),
    )


def decoders(settings: RouterSettings) -> dict[str, Any]:
    return {
        settings.enriched_topic: ENRICHED_DECODER.decode,
        settings.lifecycle_topic: LIFECYCLE_DECODER.decode,
    }


def build(settings: RouterSettings) -> Service:
    """The service; the policy file is compiled here, so an invalid one stops the start."""
    policies = PolicyHolder.from_file(settings.policy_path)
    router = build_router(settings, policies)
    watchers: list[asyncio.Task[None]] = []
    # Until the host hands its sessions to `build`, the admin routes get their own engine
    # (it connects on first use).
    admin = make_router(
        router, make_sessionmaker(engine_from(settings)), settings.recent_decisions_limit
    )

    async def on_start(_: AsyncEngine) -> None:
        watchers.append(
            asyncio.create_task(policies.watch(settings.policy_poll_seconds), name="policy-reload")
        )

    def make_handler(_: async_sessionmaker[AsyncSession]) -> Handler[Any]:
        return router.handle

    return Service(
        name=NAME,
        settings=settings,
        decoders=decoders(settings),
        make_handler=make_handler,
        routers=[admin],
        on_start=on_start,
    )
