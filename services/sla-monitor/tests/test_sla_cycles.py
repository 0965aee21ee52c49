"""Reopen is a new cycle: each cycle fires its own warning and breach, once, on the real parts.

The schedulers run on the rig's ManualClock, which the test moves on.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sla_fixtures import Rig

from sla_monitor.domain.alerts import alert_id
from switchboard_events import derive_id
from switchboard_events.testing import decided as decision
from switchboard_events.testing import lifecycle as step

pytestmark = pytest.mark.integration

RESOLUTION = "target = 'resolution'"
FIRST_RESPONSE_ALERTS = 3  # a call: warning, breach and escalation


async def test_a_reopened_contact_gets_the_warning_and_breach_of_each_cycle_once(
    rig: Rig,
) -> None:
    # P1: resolution 4 s of calendar time, warning at 2 s (sla_support policy).
    t0 = rig.clock.now()

    def at(seconds: float) -> datetime:
        return t0 + timedelta(seconds=seconds)

    opened = decision("c", arrived_at=t0, priority=900, priority_label="P1")
    cycle_2 = [step("c", "resolved", at(6)), step("c", "reopened", at(10))]
    async with rig.running():
        await rig.send(opened)
        await rig.rows(f"SELECT count(*) FROM sla.due_alerts WHERE {RESOLUTION}", 2)
        await rig.advance_to(at(5))
        assert await rig.fired(2, where=RESOLUTION) == 2
        await rig.send(*cycle_2)
        await rig.rows("SELECT count(*) FROM sla.lifecycle WHERE kind = 'reopened'", 1)
        await rig.advance_to(at(20))
        assert await rig.fired(4, where=RESOLUTION) == 4
        # A replay, then a step after it, and later rounds of the scheduler fire nothing new.
        await rig.send(*cycle_2, step("c", "assigned", at(11)))
        await rig.rows("SELECT count(*) FROM sla.lifecycle WHERE kind = 'assigned'", 1)
        await rig.advance_to(at(60))
        await rig.advance_to(at(61))
    assert await rig.count(f"SELECT count(*) FROM sla.alerts WHERE {RESOLUTION}") == 4
    sent = await rig.alerts()
    assert len(sent) == 4 + FIRST_RESPONSE_ALERTS
    resolution = {a.id: a.data for a in sent if a.data.target.value == "resolution"}
    assert sorted((a.cycle, a.kind.value, a.level, a.due_at) for a in resolution.values()) == [
        (1, "breach", 1, at(4)),
        (1, "warning", 1, at(4)),
        (2, "breach", 1, at(14)),
        (2, "warning", 1, at(14)),
    ]
    ids = {(a.cycle, a.kind.value): ident for ident, a in resolution.items()}
    assert ids[1, "breach"] == derive_id("sla.alert", "c", "resolution", "breach", "1"), (
        "a first cycle's id is the id it had before cycles were numbered"
    )
    assert ids[2, "breach"] == alert_id("c", "resolution", "breach", 1, cycle=2)
