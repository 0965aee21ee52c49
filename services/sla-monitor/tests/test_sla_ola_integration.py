"""OLAs and quiet hours on the real broker and database (the rig's ManualClock moves time).

The test policy (sla_support.short_policy_yaml): team billing (queue `billing`) answers
a handover within 2 s (warning at 1 s); chats have an hour to the first response; social
posts 4 s of wall time with the warning held outside the queue's hours, or dropped when
held past the breach (queue `closed` is closed from yesterday to tomorrow, open all day
otherwise).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from prometheus_client import generate_latest
from sla_fixtures import Rig

from sla_monitor import live
from sla_monitor.domain.alerts import alert_id
from switchboard_events.sla import Agreement
from switchboard_events.testing import decided as decision
from switchboard_events.testing import lifecycle as step

pytestmark = pytest.mark.integration


async def test_a_transferred_contact_breaches_its_ola_and_attainment_counts_it(rig: Rig) -> None:
    t0 = rig.clock.now()

    def at(seconds: float) -> datetime:
        return t0 + timedelta(seconds=seconds)

    async with rig.running():
        await rig.send(
            decision("late", channel="chat", arrived_at=t0),
            decision("quick", channel="chat", arrived_at=t0),
            step("late", "transferred", at(0.5), to_queue_id="billing"),
            step("quick", "transferred", at(0.5), to_queue_id="billing"),
            step("quick", "agent_replied", at(1.0)),
        )
        await rig.rows("SELECT count(*) FROM sla.due_alerts WHERE team = 'billing'", 2)
        await rig.advance_to(at(1.4))
        assert await rig.published() == 0
        await rig.advance_to(at(2.6))
        assert await rig.fired(2) == 2
        await rig.advance_to(at(4))
        assert await rig.published() == 2, "the answered one, and the SLA's hour, fire nothing"
        alerts = await rig.alerts()
        found = await live.snapshot(rig.sessions, [900], rig.clock.now())
    assert [(a.data.contact_id, a.data.kind.value) for a in alerts] == [
        ("late", "warning"),
        ("late", "breach"),
    ]
    breach = alerts[1].data
    assert (breach.agreement, breach.team, breach.queue_id, breach.policy_rule) == (
        Agreement.OLA,
        "billing",
        "billing",
        "billing-pickup",
    )
    assert breach.due_at == at(2.5)
    assert breach.alert_id == alert_id("late", "first_response", "breach", 1, team="billing")
    assert [(o.team, o.handovers, o.met, o.missed) for o in found.olas] == [("billing", 2, 1, 1)]
    assert all(r.breaches == 0 for r in found.rows), "an OLA breach is not the SLA's"
    live.export(found)
    exposed = generate_latest().decode()
    assert 'switchboard_sla_ola_attainment_ratio{team="billing",window="15m"} 0.5' in exposed


async def test_a_warning_outside_hours_waits_for_the_opening_unless_its_breach_comes_first(
    rig: Rig,
) -> None:
    t0 = rig.clock.now()
    opening = datetime.combine(t0.date() + timedelta(days=2), time(), UTC)
    # late: its warning (at 2 s) falls before the opening, its breach (4 s) after
    late = opening - timedelta(seconds=3)
    first_response = "target = 'first_response'"
    async with rig.running():
        await rig.send(
            decision("post", channel="social", queue_id="closed", arrived_at=t0),
            decision("late", channel="social", queue_id="closed", arrived_at=late),
        )
        timers = f"SELECT count(*) FROM sla.due_alerts WHERE {first_response} AND contact_id = "
        await rig.rows(timers + "'late'", 2)
        await rig.rows(timers + "'post' AND kind = 'breach'", 1)
        assert await rig.count(timers + "'post'") == 1, "held past its breach: dropped"
        await rig.advance_to(t0 + timedelta(seconds=4.5))
        assert await rig.fired(1, first_response) == 1
        await rig.advance_to(opening - timedelta(seconds=0.5))
        assert await rig.published(first_response) == 1, "the warning waits for the opening"
        await rig.advance_to(opening)
        assert await rig.fired(2, first_response) == 2
        await rig.advance_to(opening + timedelta(seconds=1.5))
        assert await rig.fired(3, first_response) == 3
        alerts = await rig.alerts()
    sent = sorted(
        (a.data for a in alerts if a.data.target.value == "first_response"),
        key=lambda d: (d.contact_id, d.fired_at),
    )
    assert [(d.contact_id, d.kind.value) for d in sent] == [
        ("late", "warning"),
        ("late", "breach"),
        ("post", "breach"),
    ]
    warning, breach, post_breach = sent
    assert (post_breach.held_until, post_breach.fired_at) == (None, t0 + timedelta(seconds=4.5))
    assert (warning.held_until, warning.fired_at) == (opening, opening)
    assert warning.due_at == late + timedelta(seconds=4), "the breach time stays exact"
    assert (breach.held_until, breach.due_at) == (None, late + timedelta(seconds=4))
    assert [a.time for a in alerts if a.data.alert_id == warning.alert_id] == [
        late + timedelta(seconds=2)
    ], "the level's time stays exact"
