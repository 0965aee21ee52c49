"""Wires the enrichment use case and the admin API into the runtime's host."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import HTTPException
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from profile_lookup.api import make_router
from profile_lookup.config import SERVICE_NAME, ProfilesSettings
from profile_lookup.customer_repository import postgres_transactions
from profile_lookup.customers import Customers
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


def customers_service(
    settings: ProfilesSettings, sessions: async_sessionmaker[AsyncSession]
) -> Customers:
    return Customers(
        postgres_transactions(sessions),
        default_region=settings.default_region,
        tiers=settings.tiers,
    )


def build(settings: ProfilesSettings) -> Service:
    enricher = Enricher.from_settings(settings)
    bound: list[Customers] = []  # until the host hands over the database (on_start)

    def customers() -> Customers:
        if not bound:
            raise HTTPException(503, "the service is starting: no database yet")
        return bound[0]

    def handler(_: async_sessionmaker[AsyncSession]) -> Handler[Any]:
        return enricher

    async def on_start(engine: AsyncEngine) -> None:
        bound[:] = [customers_service(settings, make_sessionmaker(engine))]

    router = make_router(
        customers,
        chunk_rows=settings.import_chunk_rows,
        import_max_bytes=settings.import_max_bytes,
    )
    return Service(
        name=SERVICE_NAME,
        settings=settings,
        decoders=decoders(settings),
        make_handler=handler,
        routers=[router],
        on_start=on_start,
    )
