"""Upgrading to 0016 counts the contacts already open, so live load reads the same from
the counters as it did from the rows; downgrading drops the counters and their triggers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from router_fixtures import EmptyDatabase
from sqlalchemy import text

from router.repository import PostgresRoutingRepository
from switchboard_events.testing import T0
from switchboard_runtime import db

pytestmark = pytest.mark.integration


async def test_contacts_open_before_the_upgrade_count_as_load(
    empty_database: EmptyDatabase,
) -> None:
    await empty_database.upgrade_over(
        "0014",
        (
            "INSERT INTO routing.contacts (contact_id, queue_id, channel, status,"
            " opened_at) VALUES ('a', 'general', 'call', 'open', :at),"
            " ('b', 'general', 'call', 'open', :earlier),"
            " ('c', 'billing', NULL, 'open', :at),"
            " ('closed', 'general', 'call', 'resolved', :at),"
            " ('undecided', NULL, NULL, 'open', :at)",
            {"at": T0, "earlier": T0 - timedelta(hours=3)},
        ),
    )
    sessions = db.make_sessionmaker(empty_database.engine)
    async with sessions() as session, session.begin():
        store = PostgresRoutingRepository(session)
        assert await store.open_load(T0 - timedelta(hours=1)) == {
            ("general", "call"): 1,
            ("billing", ""): 1,
        }
        assert await store.open_load(T0 - timedelta(hours=4)) == {
            ("general", "call"): 2,
            ("billing", ""): 1,
        }
        # Kept from now on by the triggers: a closing counts out at once.
        await session.execute(
            text("UPDATE routing.contacts SET status = 'abandoned' WHERE contact_id = 'a'")
        )
        assert await store.open_load(T0 - timedelta(hours=1)) == {("billing", ""): 1}
    await empty_database.downgrade("0014")
    async with empty_database.engine.connect() as conn:
        tables = await conn.execute(text("SELECT to_regclass('routing.open_load')"))
        assert tables.scalar() is None
        # Writes go on without the triggers' functions.
        await conn.execute(text("DELETE FROM routing.contacts"))
