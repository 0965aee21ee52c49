"""Reopen is a new cycle: each cycle fires its own warning and breach, once, on the real parts.

The schedulers run on an injected clock that the test moves on; the contact arrived in
the past, so every record is read past the instants the clock is moved to.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sla_fixtures import Rig

from sla_monitor.domain.alerts import alert_id
from sla_monitor.samples import decision, step
from sla_monitor.scheduler import Scheduler
from switchboard_events import derive_id

pytestmark = pytest.mark.integration

RESOLUTION = "target = 'resolution'"
FIRST_RESPONSE_ALERTS = 3  # a call: warning, breach and escalation


async def test_a_reopened_contact_gets_the_warning_and_breach_of_each_cycle_once(
    rig: Rig,
) -> None:
    # P1: resolution 4 s of calendar time, warning at 2 s (sla_fixtures policy).
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    clock = [t0 + timedelta(seconds=5)]

    def at(seconds: float) -> datetime:
        return t0 + timedelta(seconds=seconds)

    opened = decision("c", arrived_at=t0, priority=900, priority_label="P1")
    cycle_2 = [step("c", "resolved", at(6)), step("c", "reopened", at(10))]
    async with rig.running(now=lambda: clock[0]) as (scheduler,):
        await rig.send(opened)
        assert await rig.fired(2, where=RESOLUTION) == 2
        await rig.send(*cycle_2)
        await until_count(rig, "SELECT count(*) FROM sla.lifecycle WHERE kind = 'reopened'", 1)
        clock[0] = at(20)
        assert await rig.fired(4, where=RESOLUTION) == 4
        # A replay, then a step after it, and later rounds of the scheduler fire nothing new.
        await rig.send(*cycle_2, step("c", "assigned", at(11)))
        await until_count(rig, "SELECT count(*) FROM sla.lifecycle WHERE kind = 'assigned'", 1)
        clock[0] = at(60)
        await until_rounds(scheduler, 2)
    assert await rig.count(f"SELECT count(*) FROM sla.alerts WHERE {RESOLUTION}") == 4
    sent = await rig.alerts(expected=4 + FIRST_RESPONSE_ALERTS)
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


async def until_count(rig: Rig, sql: str, expected: int) -> None:
    deadline = asyncio.get_running_loop().time() + 10
    while await rig.count(sql) < expected:
        assert asyncio.get_running_loop().time() < deadline, f"waited for {sql!r}"
        await asyncio.sleep(0.05)


async def until_rounds(scheduler: Scheduler, rounds: int) -> None:
    """Until the scheduler has finished `rounds` more rounds (the first may have begun before)."""
    for _ in range(rounds):
        since = scheduler.last_round
        async with asyncio.timeout(10):
            while scheduler.last_round == since:  # noqa: ASYNC110 (no event to wait on)
                await asyncio.sleep(0.02)
