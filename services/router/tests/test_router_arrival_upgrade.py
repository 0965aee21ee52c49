"""Upgrading to 0014 gives the contacts already recorded their arrival, from the stored
decision events, so the what-if replay finds them in the period they arrived in."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from router_fixtures import EmptyDatabase
from sqlalchemy import text

from switchboard_events import encode
from switchboard_events.testing import T0, decided

pytestmark = pytest.mark.integration


async def test_recorded_contacts_get_the_arrival_of_their_stored_decision(
    empty_database: EmptyDatabase,
) -> None:
    await empty_database.migrate("0012")
    # Arrived a day before the router decided it (a backlog).
    event = decided("late", arrived_at=T0 - timedelta(days=1), decided_at=T0)
    async with empty_database.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO routing.decisions"
                " (decision_id, contact_id, queue_id, policy_version, decided_at, event)"
                " VALUES (:id, 'late', 'general', 'v0', :at, :event)"
            ),
            {"id": event.id, "at": T0, "event": encode(event).decode()},
        )
        await conn.execute(
            text(
                "INSERT INTO routing.contacts (contact_id, queue_id, status, decision_id,"
                " opened_at) VALUES ('late', 'general', 'open', :id, :at),"
                # Closed before its decision arrived: no decision, no arrival yet.
                " ('undecided', NULL, 'resolved', NULL, :at)"
            ),
            {"id": event.id, "at": T0},
        )
    await empty_database.migrate()
    async with empty_database.engine.connect() as conn:
        rows = await conn.execute(text("SELECT contact_id, arrived_at FROM routing.contacts"))
        arrivals: dict[str, datetime | None] = dict(rows.all())
    assert arrivals == {"late": T0 - timedelta(days=1), "undecided": None}
