"""Wires the enrichment use case and the admin API into the runtime's host."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from profile_lookup.api import Admin, make_router
from profile_lookup.config import SERVICE_NAME, ProfilesSettings
from profile_lookup.service import Enricher
from switchboard_events import INBOUND_DECODER, LIFECYCLE_DECODER
from switchboard_runtime.db import make_sessionmaker
from switchboard_runtime.host import Service
from switchboard_runtime.runner import Decoder, Handler


def decoders(settings: ProfilesSettings) -> Mapping[str, Decoder[Any]]:
    """The consumed topics and how each record is decoded (invalid ones are dead-lettered)."""
    return {
        settings.inbound_topic: INBOUND_DECODER.decode,
        settings.lifecycle_topic: LIFECYCLE_DECODER.decode,
    }


def build(settings: ProfilesSettings) -> Service:
    enricher = Enricher.from_settings(settings)
    admin = Admin(settings)

    def handler(_: async_sessionmaker[AsyncSession]) -> Handler[Any]:
        return enricher

    async def on_start(engine: AsyncEngine) -> None:
        admin.bind(make_sessionmaker(engine))

    return Service(
        name=SERVICE_NAME,
        settings=settings,
        decoders=decoders(settings),
        make_handler=handler,
        routers=[make_router(admin)],
        on_start=on_start,
    )
