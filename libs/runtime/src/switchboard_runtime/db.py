"""Database plumbing: the async engine, sessions, and the processed-event ledger.

Every service records the ids of the events it has applied in its own schema's
`processed_events` table, in the same transaction as the effects, so a replayed
event is recognised and changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from switchboard_runtime.settings import ServiceSettings


def make_engine(url: str, pool_size: int = 5) -> AsyncEngine:
    """An engine whose connections are checked before use, so a restarted database heals.

    Bound parameters are left out of every error's text (and so of every log line and
    traceback): they carry phone numbers and email addresses.
    """
    return create_async_engine(
        url,
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
    )


def engine_from(settings: ServiceSettings) -> AsyncEngine:
    return make_engine(settings.database_url.get_secret_value(), settings.database_pool_size)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def claim_events(session: AsyncSession, schema: str, event_ids: Sequence[str]) -> set[str]:
    """Record `event_ids` as processed; return those not processed before.

    One round trip for the whole batch. The claim commits or rolls back with the
    batch's other effects, so an id is claimed exactly when its effects exist.
    """
    if not event_ids:
        return set()
    result = await session.execute(
        text(
            f"INSERT INTO {schema}.processed_events (event_id)"
            " SELECT DISTINCT unnest(CAST(:ids AS text[]))"
            " ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
        ),
        {"ids": list(event_ids)},
    )
    return {row[0] for row in result}


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
