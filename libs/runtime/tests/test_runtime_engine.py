"""The engine's check before use, on the real database: one round trip, and a connection
the database dropped is replaced before a caller sees it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from switchboard_runtime import db

pytestmark = pytest.mark.integration


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = db.make_engine(database_url, pool_size=1)
    yield engine
    await engine.dispose()


async def backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        pid: int = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        return pid


async def test_a_checkout_is_checked_in_one_round_trip(engine: AsyncEngine) -> None:
    await backend_pid(engine)  # the pool holds a connection now
    sent: list[str] = []
    async with engine.connect() as connection:
        asyncpg_connection = (await connection.get_raw_connection()).driver_connection
        assert asyncpg_connection is not None
        asyncpg_connection.add_query_logger(lambda record: sent.append(record.query))
    sent.clear()  # what the logger's own checkout sent
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 2"))
    # The check, then the caller's transaction (its prepared statement is not logged).
    assert sent == ["SELECT 1", "BEGIN;", "ROLLBACK;"]


async def test_a_connection_the_database_dropped_is_replaced_at_checkout(
    engine: AsyncEngine, database_url: str
) -> None:
    dropped = await backend_pid(engine)
    other = db.make_engine(database_url, pool_size=1)
    try:
        async with other.connect() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dropped})
    finally:
        await other.dispose()
    assert await backend_pid(engine) != dropped
