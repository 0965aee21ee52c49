"""sla-monitor's migrations down and up again with data in the tables (real PostgreSQL)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from sla_monitor.config import SERVICE
from switchboard_events.testing import T0
from switchboard_runtime import db
from switchboard_runtime.migrations import downgrade, upgrade

pytestmark = pytest.mark.integration

ALERT = (
    "INSERT INTO sla.alerts (contact_id, target, kind, cycle, level, alert_id, queue_id,"
    " channel, due_at, fired_at, payload, team) VALUES ('c1', 'first_response', 'breach', 1, 1,"
    " :id, 'billing', 'chat', :at, :at, '', :team)"
)
TIMER = (
    "INSERT INTO sla.due_alerts (contact_id, target, kind, cycle, level, due_at, alert, team)"
    " VALUES ('c1', 'first_response', 'warning', 1, 1, :at, '{}', :team)"
)


async def test_olas_downgrade_drops_ola_alerts_and_upgrades_again(database_url: str) -> None:
    """Below 0007 an alert has no team: the OLAs' alerts and timers, which would collide
    with the SLA's on the old key, go; the SLA's stay, and the way back up works."""
    engine = db.make_engine(database_url)
    try:
        async with engine.begin() as conn:
            for team in ("", "billing"):
                await conn.execute(text(ALERT), {"id": f"breach {team}", "at": T0, "team": team})
                await conn.execute(text(TIMER), {"at": T0, "team": team})
            await conn.execute(
                text(
                    "INSERT INTO sla.ola_clocks (contact_id, team, cycle, queue_id, started_at,"
                    " state) VALUES ('c1', 'billing', 1, 'billing', :at, 'missed')"
                ),
                {"at": T0},
            )
        args = (database_url, SERVICE.migrations, SERVICE.schema)
        await asyncio.to_thread(downgrade, *args, "0005")
        async with engine.connect() as conn:
            alerts = (await conn.execute(text("SELECT alert_id FROM sla.alerts"))).scalars()
            assert list(alerts) == ["breach "], "the SLA's alert stays"
            assert await conn.scalar(text("SELECT count(*) FROM sla.due_alerts")) == 1
        await asyncio.to_thread(upgrade, *args)
        async with engine.begin() as conn:
            await conn.execute(text(ALERT), {"id": "again", "at": T0, "team": "billing"})
            teams = await conn.execute(text("SELECT team FROM sla.alerts ORDER BY team"))
            assert list(teams.scalars()) == ["", "billing"]
            assert await conn.scalar(text("SELECT count(*) FROM sla.ola_clocks")) == 0
    finally:
        await engine.dispose()
