"""A lagging monitor fires no alert that a step it has not yet read would have stopped.

Issue 16.3 at small scale: the decisions are read, the lifecycle is not (a backlog of
unrelated steps, then the answers), and the scheduler's clock is long past every due
time. Records carry the time they were produced at, as a desktop publishing live does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY
from sla_fixtures import Rig

from sla_monitor.service import consumed_until
from switchboard_events import Event, encode
from switchboard_events.testing import decided as decision
from switchboard_events.testing import lifecycle as step
from switchboard_runtime import kafka
from switchboard_runtime.clock import SYSTEM_CLOCK
from switchboard_runtime.runner import Progress
from switchboard_runtime.testing import eventually

pytestmark = pytest.mark.integration

ANSWERED = [f"a{i:03d}" for i in range(60)]
UNANSWERED = [f"u{i:02d}" for i in range(6)]
NOISE = 2000
PER_UNANSWERED = 3  # first response: warning, breach, escalation (sla_fixtures policy)


async def produce_at(rig: Rig, topic: str, events: Sequence[tuple[Event, datetime]]) -> None:
    """Publish each event keyed by its contact, with the record timestamp given."""
    producer = kafka.make_producer(rig.kafka, "desktop")
    await producer.start()
    try:
        sent = [
            await producer.send(
                topic,
                encode(event),
                key=event.subject.encode(),
                timestamp_ms=int(at.timestamp() * 1000),
            )
            for event, at in events
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def test_a_lagging_monitor_alerts_only_contacts_not_answered_in_time(rig: Rig) -> None:
    # Record times are real (the broker's fetches answer in real time); the clock too, here.
    t0 = SYSTEM_CLOCK.now() - timedelta(seconds=30)
    late = t0 + timedelta(seconds=75)  # the scheduler's clock: every level is past due
    rig.clock.set(late)
    contacts = ANSWERED + UNANSWERED
    await produce_at(
        rig,
        rig.settings.decisions_topic,
        [(decision(c, arrived_at=t0), t0) for c in contacts],
    )
    noise_at = t0 + timedelta(seconds=0.2)
    answered_at = t0 + timedelta(seconds=0.5)  # the warning is due at 1 s
    await produce_at(
        rig,
        rig.settings.lifecycle_topic,
        [(step(f"other{i:05d}", "assigned", noise_at), noise_at) for i in range(NOISE)]
        + [(step(c, "first_response", answered_at), answered_at) for c in ANSWERED],
    )

    # The consumer has read the decisions but none of the lifecycle yet.
    async with rig.running(schedulers=0, topics=[rig.settings.decisions_topic]):
        timed = "SELECT count(DISTINCT contact_id) FROM sla.due_alerts"
        assert await rig.rows(timed, len(contacts)) == len(contacts)
    producer = kafka.make_producer(rig.kafka, "sla-late")
    await producer.start()
    try:
        scheduler = rig.scheduler(producer)
        assert await scheduler.fire_due() == 0, "the lifecycle is unread: nothing may fire yet"
        await scheduler.count_held_back()
        held = REGISTRY.get_sample_value("switchboard_sla_alerts_held_back")
        assert held == PER_UNANSWERED * len(contacts)
    finally:
        await producer.stop()

    # Now it catches up on the lifecycle backlog while the scheduler runs.
    expected = PER_UNANSWERED * len(UNANSWERED)
    async with rig.running():
        steps = "SELECT count(*) FROM sla.lifecycle"

        async def caught_up() -> int | None:
            if rig.clock.sleeping:
                rig.clock.advance(0.1)  # a scheduler round at every look, all along the catch-up
            found = await rig.count(steps)
            return found if found >= NOISE + len(ANSWERED) else None

        assert await eventually(caught_up, what="the lifecycle backlog") == NOISE + len(ANSWERED)
        # Read past every level of the unanswered (t0 + 3 s) on every partition: none waits.
        read_past = (
            "SELECT count(*) FROM sla.watermarks"
            f" WHERE consumed_until >= TIMESTAMPTZ '{(t0 + timedelta(seconds=3)).isoformat()}'"
        )
        await rig.rows(read_past, 2 * rig.kafka.partitions)
        await rig.advance_to(rig.clock.now() + timedelta(seconds=0.1))
        assert await rig.fired(expected) == expected
        alerts = await rig.alerts()
    assert sorted({a.data.contact_id for a in alerts}) == UNANSWERED
    assert len(alerts) == expected
    assert await rig.count("SELECT count(*) FROM sla.alerts") == expected
    left = "SELECT count(*) FROM sla.due_alerts WHERE target = 'first_response'"
    assert await rig.count(left) == 0, "the answered contacts' timers are cancelled"


def test_a_caught_up_partition_is_read_up_to_its_last_fetch_one_behind_to_its_last_record() -> None:
    fetched = datetime(2026, 12, 1, 12, tzinfo=UTC)
    record = fetched - timedelta(seconds=75)
    ms = int(fetched.timestamp() * 1000)
    behind = Progress(
        position=10, highwater=30, fetched_ms=ms, last_timestamp_ms=int(record.timestamp() * 1000)
    )
    assert consumed_until(behind) == record
    idle = Progress(position=30, highwater=30, fetched_ms=ms, last_timestamp_ms=None)
    assert consumed_until(idle) == fetched, "no new traffic must not hold alerts back"
    assert consumed_until(Progress(0, 5, ms, None)) is None, "behind, nothing read yet: unknown"
