"""sla-monitor on the real broker and database: clocks from events, alerts on the topic.

The schedulers run on the rig's ManualClock: a test moves it to each instant that
matters (`rig.advance_to`) and, to show that nothing (more) fires, moves it to just
before the next due time and reads what was published once the scheduler is idle.

The test policy (sla_support.short_policy_yaml) gives calls a 2 s first-response target
(warning at 1 s, escalation 1 s after the breach), a 2 s next response (warning 1 s
before), P1 contacts a 4 s resolution (warning at 2 s), and emails a 2 s business-time
target; queue `closed` works by a calendar closed today, `general` by one always open.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import datetime, timedelta

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import BrokerNotAvailableError, KafkaConnectionError, KafkaTimeoutError
from prometheus_client import REGISTRY
from sla_fixtures import Rig

from sla_monitor.domain.alerts import alert_id
from switchboard_events import SlaAlert, dlq
from switchboard_events.testing import decided as decision
from switchboard_events.testing import lifecycle as step
from switchboard_runtime import kafka
from switchboard_runtime.testing import eventually
from switchboard_runtime.testing.kafka import committed, publish, read_topic

pytestmark = pytest.mark.integration

BACKOFF_S = 1.0
"""Longer than any of the scheduler's first few backoff delays (0.1 s, doubling, jittered)."""


def after(start: datetime, seconds: float) -> datetime:
    return start + timedelta(seconds=seconds)


async def no_timers(rig: Rig, contact: str) -> bool:
    """Whether the contact's first-response timers are all cancelled."""
    sql = f"SELECT count(*) FROM sla.due_alerts WHERE contact_id = '{contact}' AND target = 'first_response'"
    return await rig.count(sql) == 0


def keys(alerts: list[SlaAlert], contact: str | None = None) -> list[tuple[str, str, int]]:
    return [
        (a.data.target.value, a.data.kind.value, a.data.level)
        for a in alerts
        if contact is None or a.data.contact_id == contact
    ]


async def test_unanswered_call_warns_breaches_escalates_in_order_answered_one_gets_none(
    rig: Rig,
) -> None:
    async with rig.running():
        arrived = rig.clock.now()
        await rig.send(
            decision(
                "late",
                arrived_at=arrived,
                queue_id="vendor",
                queue_kind="outsourced",
                priority=700,
                priority_label="P2",
            ),
            decision("quick", arrived_at=arrived),
            step("quick", "first_response", after(arrived, 0.3)),
        )
        timers = "SELECT count(*) FROM sla.due_alerts WHERE target = 'first_response'"
        await rig.rows(timers, 3)
        await rig.advance_to(after(arrived, 0.9))
        assert await rig.published() == 0, "nothing before the warning"
        for seconds, fired in ((1, 1), (2, 2), (3, 3)):
            await rig.advance_to(after(arrived, seconds))
            assert await rig.fired(fired) == fired
        await rig.advance_to(after(arrived, 3.9))
        assert await rig.published() == 3, "nothing more may come"
        alerts = await rig.alerts()
    assert keys(alerts, "quick") == []
    assert keys(alerts, "late") == [
        ("first_response", "warning", 1),
        ("first_response", "breach", 1),
        ("first_response", "escalation", 1),
    ]
    warning = alerts[0].data
    assert alerts[0].id == alert_id("late", "first_response", "warning", 1) == warning.alert_id
    assert (warning.queue_id, warning.queue_kind.value, warning.vendor) == (
        "vendor",
        "outsourced",
        "acme-bpo",
    )
    assert (warning.priority, warning.priority_label, warning.channel.value) == (700, "P2", "call")
    assert warning.target_seconds == 2
    assert warning.elapsed_business_seconds == 1.0
    assert warning.policy_rule == "call"
    assert warning.due_at == arrived + timedelta(seconds=2)
    for alert, seconds in zip(alerts, (1, 2, 3), strict=True):
        assert alert.time == after(arrived, seconds)
        assert alert.data.fired_at == after(arrived, seconds), "fired in the round it fell due"
    pending = "SELECT count(*) FROM sla.due_alerts WHERE contact_id = 'quick' AND target = 'first_response'"
    assert await rig.scalar(pending) == 0


async def test_lifecycle_before_the_decision_ends_up_right(rig: Rig) -> None:
    async with rig.running():
        arrived = rig.clock.now()
        # Steps first (they are on another topic), the decisions once they are stored.
        await rig.send(
            step("answered", "first_response", after(arrived, 0.2)),
            step("parked", "waiting_on_customer", after(arrived, 0.2)),
        )
        await rig.rows("SELECT count(*) FROM sla.lifecycle", 2)
        await rig.send(
            decision("answered", arrived_at=arrived), decision("parked", arrived_at=arrived)
        )
        await rig.rows("SELECT count(*) FROM sla.contacts WHERE decision_id IS NOT NULL", 2)
        await rig.advance_to(after(arrived, 3.5))
        assert await rig.published() == 0, "answered in time, or paused since 0.2 s"
        resumed = rig.clock.now()
        await rig.send(step("parked", "customer_replied", resumed))
        replied = "SELECT count(*) FROM sla.lifecycle WHERE kind = 'customer_replied'"
        await rig.rows(replied, 1)
        timers = "SELECT count(*) FROM sla.due_alerts WHERE target = 'first_response'"
        await rig.rows(timers, 3)
        await rig.advance_to(after(resumed, 1.7))
        assert await rig.published() == 1, "the warning only: 0.2 s counted before the pause"
        await rig.advance_to(after(resumed, 2.8))
        assert await rig.fired(3) == 3
        alerts = await rig.alerts()
    assert keys(alerts, "parked") == [
        ("first_response", "warning", 1),
        ("first_response", "breach", 1),
        ("first_response", "escalation", 1),
    ]
    # 0.2 s counted before the pause: the breach comes 1.8 s after the reply.
    assert alerts[1].time == resumed + timedelta(seconds=1.8)


async def test_business_time_waits_for_the_calendar_calendar_time_does_not(rig: Rig) -> None:
    async with rig.running():
        arrived = rig.clock.now()
        await rig.send(
            decision("office", channel="email", queue_id="closed", arrived_at=arrived),
            decision("anytime", channel="email", queue_id="general", arrived_at=arrived),
            decision("phone", channel="call", queue_id="closed", arrived_at=arrived),
        )
        await rig.rows("SELECT count(DISTINCT contact_id) FROM sla.due_alerts", 3)
        await rig.advance_to(after(arrived, 3))
        assert await rig.fired(5) == 5
        await rig.advance_to(after(arrived, 4))
        assert await rig.published() == 5
        alerts = await rig.alerts()
    assert keys(alerts, "office") == [], "the closed calendar counts no business time today"
    assert keys(alerts, "anytime") == [
        ("first_response", "warning", 1),
        ("first_response", "breach", 1),
    ]
    assert keys(alerts, "phone") == [
        ("first_response", "warning", 1),
        ("first_response", "breach", 1),
        ("first_response", "escalation", 1),
    ], "calls count calendar time, whatever the queue's calendar"
    due = (
        f"SELECT due_at > TIMESTAMPTZ '{arrived.isoformat()}' + interval '1 day' FROM sla.due_alerts"
        " WHERE contact_id = 'office' AND kind = 'breach' AND target = 'first_response'"
    )
    assert await rig.scalar(due) is True, "the office email is due after the holidays"


async def test_pause_and_resume_shift_the_breach_by_the_pause(rig: Rig) -> None:
    async with rig.running():
        arrived = rig.clock.now()
        await rig.send(
            decision("c", arrived_at=arrived),
            step("c", "waiting_on_customer", after(arrived, 0.5)),
        )
        await rig.rows("SELECT count(*) FROM sla.lifecycle", 1)
        await rig.rows("SELECT count(*) FROM sla.contacts WHERE decision_id IS NOT NULL", 1)
        await rig.advance_to(after(arrived, 3))
        assert await rig.published() == 0
        resumed = rig.clock.now()
        await rig.send(step("c", "resumed", resumed))
        timers = "SELECT count(*) FROM sla.due_alerts WHERE target = 'first_response'"
        await rig.rows(timers, 3)
        await rig.advance_to(after(resumed, 2.5))
        assert await rig.fired(3) == 3
        alerts = await rig.alerts()
    assert keys(alerts) == [
        ("first_response", "warning", 1),
        ("first_response", "breach", 1),
        ("first_response", "escalation", 1),
    ]
    assert alerts[0].time == resumed + timedelta(seconds=0.5)
    assert alerts[1].data.due_at == resumed + timedelta(seconds=1.5)
    assert alerts[1].data.elapsed_business_seconds == 2.0


async def test_next_response_and_reopen_restart_their_clocks(rig: Rig) -> None:
    async with rig.running():
        arrived = rig.clock.now()
        await rig.send(
            decision("c", arrived_at=arrived, priority_label="P1"),
            step("c", "first_response", after(arrived, 0.1)),
            step("c", "customer_replied", after(arrived, 0.2)),
            step("c", "agent_replied", after(arrived, 0.5)),
            step("c", "resolved", after(arrived, 0.6)),
        )
        await rig.rows("SELECT count(*) FROM sla.contacts WHERE status = 'resolved'", 1)
        await rig.advance_to(after(arrived, 3))
        assert await rig.published() == 0, "every target met in time"
        reopened = rig.clock.now()
        await rig.send(
            step("c", "reopened", reopened),
            step("c", "customer_replied", after(reopened, 0.1)),
        )
        await rig.rows("SELECT count(*) FROM sla.lifecycle", 6)
        await rig.rows("SELECT count(*) FROM sla.contacts WHERE status = 'open'", 1)
        await rig.advance_to(after(reopened, 4))
        assert await rig.fired(4) == 4
        alerts = await rig.alerts()
    assert sorted((*key, a.data.cycle) for key, a in zip(keys(alerts), alerts, strict=True)) == [
        ("next_response", "breach", 1, 2),
        ("next_response", "warning", 1, 2),
        ("resolution", "breach", 1, 2),
        ("resolution", "warning", 1, 2),
    ], "the second cycles' own warning and breach"
    by_key = {(a.data.target.value, a.data.kind.value): a for a in alerts}
    assert by_key[("resolution", "breach")].time == after(reopened, 4)
    assert by_key[("next_response", "breach")].time == after(reopened, 2.1)


async def test_abandoned_and_resolved_contacts_get_nothing_more(rig: Rig) -> None:
    async with rig.running():
        arrived = rig.clock.now()
        await rig.send(
            decision("gone", arrived_at=arrived, priority_label="P1"),
            decision("done", arrived_at=arrived, priority_label="P1"),
            decision("late", arrived_at=arrived),
            step("gone", "abandoned", after(arrived, 0.4)),
            step("done", "resolved", after(arrived, 0.4)),
        )
        await rig.rows("SELECT count(*) FROM sla.contacts WHERE status <> 'open'", 2)
        await rig.rows("SELECT count(*) FROM sla.contacts WHERE decision_id IS NOT NULL", 3)
        await rig.advance_to(after(arrived, 1.2))
        assert await rig.fired(1) == 1
        # The first response comes after the warning, before the breach: nothing after it.
        await rig.send(step("late", "first_response", rig.clock.now()))
        await eventually(lambda: no_timers(rig, "late"), what="the late contact's timers cancelled")
        await rig.advance_to(after(arrived, 3.9))
        assert await rig.published() == 1
        alerts = await rig.alerts()
    assert keys(alerts, "late") == [("first_response", "warning", 1)]
    state = "SELECT status FROM sla.contacts WHERE contact_id = 'gone'"
    assert await rig.scalar(state) == "abandoned"
    left = "SELECT count(*) FROM sla.due_alerts WHERE contact_id IN ('gone', 'done', 'late') AND target = 'first_response'"
    assert await rig.scalar(left) == 0


async def test_a_replayed_event_changes_nothing_and_invalid_ones_are_dead_lettered(
    rig: Rig,
) -> None:
    group = rig.settings.consumer_group or "sla"
    async with rig.running():
        arrived = rig.clock.now()
        d = decision("c", arrived_at=arrived)
        await rig.send(d, d, step("c", "first_response", after(arrived, 0.1)))
        await publish(rig.kafka, rig.settings.lifecycle_topic, [(b"c", b'{"type": "nonsense"')])
        letters = await read_topic(rig.kafka, dlq(rig.settings.lifecycle_topic), 1, timeout=10)
        await rig.send(d)

        async def all_read() -> bool:
            offsets = await committed(rig.kafka, group, rig.settings.decisions_topic)
            return sum(offsets.values()) == 3

        await eventually(all_read, what="the three copies of the decision")
        await rig.rows("SELECT count(*) FROM sla.lifecycle", 1)
        await rig.advance_to(after(arrived, 3.9))
        assert await rig.published() == 0
    assert len(letters) == 1
    assert await rig.scalar("SELECT count(*) FROM sla.lifecycle WHERE contact_id = 'c'") == 1


async def test_two_schedulers_fire_each_alert_exactly_once(rig: Rig) -> None:
    contacts = [f"c{i:03d}" for i in range(150)]
    expected = 3 * len(contacts)
    async with rig.running(schedulers=2, batch=20) as schedulers:
        arrived = rig.clock.now()
        await rig.send(*(decision(c, arrived_at=arrived) for c in contacts))
        await rig.rows(
            "SELECT count(*) FROM sla.due_alerts WHERE target = 'first_response'", expected
        )
        for seconds in (1, 2, 3):
            await rig.advance_to(after(arrived, seconds))
        assert await rig.fired(expected) == expected
        await rig.advance_to(after(arrived, 3.9))
        alerts = await rig.alerts()
    counts = Counter((a.data.contact_id, *k) for a, k in zip(alerts, keys(alerts), strict=True))
    assert len(counts) == expected
    assert set(counts.values()) == {1}, "no alert may be published twice"
    assert all(s.fired > 0 for s in schedulers), "both schedulers should have taken a share"
    assert sum(s.fired for s in schedulers) == expected
    assert await rig.scalar("SELECT count(*) FROM sla.alerts") == expected
    assert await rig.scalar("SELECT count(*) FROM sla.alerts WHERE published_at IS NULL") == 0


async def test_an_alert_recorded_but_not_acknowledged_is_published_again(rig: Rig) -> None:
    """The crash between the database commit and the broker's ack, made to happen."""
    arrived = rig.clock.now() - timedelta(seconds=10)
    async with rig.running(schedulers=0):
        await rig.send(decision("c", arrived_at=arrived))
        due = f"SELECT count(*) FROM sla.due_alerts WHERE due_at < TIMESTAMPTZ '{rig.clock.now().isoformat()}'"
        await rig.rows(due, 3)
        await rig.watermarked()  # or the gate holds the timers back from the crashing round
    producer = kafka.make_producer(rig.kafka, "sla-crashy")
    await producer.start()
    try:
        crashy = rig.scheduler(producer)

        async def crash(records: list[tuple[str, bytes]]) -> bool:
            raise KeyboardInterrupt("the process dies before the broker acknowledges")

        crashy._publish = crash  # type: ignore[method-assign]
        with pytest.raises(KeyboardInterrupt):
            await crashy.fire_due()
        recorded = "SELECT count(*) FROM sla.alerts WHERE published_at IS NULL"
        assert await rig.scalar(recorded) == 3
        recovered = rig.scheduler(producer)
        assert await recovered.fire_due() == 0, "the timers are gone: they were claimed"
        assert await recovered.republish_stale() == 0, "not before republish_after_s"
        rig.clock.advance(rig.settings.republish_after_s)
        assert await recovered.republish_stale() == 3
    finally:
        await producer.stop()
    alerts = await rig.alerts()
    assert [a.id for a in alerts] == [alert_id("c", *k) for k in keys(alerts)]
    assert keys(alerts) == [
        ("first_response", "warning", 1),
        ("first_response", "breach", 1),
        ("first_response", "escalation", 1),
    ]
    assert await rig.scalar("SELECT count(*) FROM sla.alerts WHERE published_at IS NULL") == 0


async def test_alert_payload_is_the_contract_json(rig: Rig) -> None:
    arrived = rig.clock.now() - timedelta(seconds=10)
    async with rig.running():
        await rig.send(decision("c", arrived_at=arrived, tier="vip"))
        await rig.rows("SELECT count(*) FROM sla.due_alerts WHERE target = 'first_response'", 3)
        await rig.advance_to(after(rig.clock.now(), 0.1))
        messages = await read_topic(rig.kafka, rig.settings.alerts_topic, 3, timeout=10)
    body = json.loads(messages[0].value)
    assert body["type"] == "switchboard.sla.alert.v1"
    assert body["subject"] == "c"
    assert messages[0].key == b"c"
    assert messages[0].headers["content-type"].startswith(b"application/cloudevents+json")


class FlakyProducer:
    """The real producer, whose first sends fail the way a broker outage makes them fail."""

    def __init__(self, real: AIOKafkaProducer, failures: list[Exception]) -> None:
        self.real = real
        self.failures = failures

    async def send(
        self, topic: str, value: bytes, *, key: bytes, headers: list[tuple[str, bytes]]
    ) -> object:
        if self.failures:
            raise self.failures.pop(0)
        return await self.real.send(topic, value, key=key, headers=headers)


async def test_broker_failures_while_publishing_are_retried_each_alert_published_once(
    rig: Rig,
) -> None:
    arrived = rig.clock.now() - timedelta(seconds=10)
    async with rig.running(schedulers=0):
        await rig.send(decision("c", arrived_at=arrived))
        await rig.rows("SELECT count(*) FROM sla.due_alerts WHERE target = 'first_response'", 3)
        await rig.watermarked()
    producer = kafka.make_producer(rig.kafka, "sla-flaky")
    await producer.start()
    failures: list[Exception] = [
        KafkaConnectionError("connection refused"),
        BrokerNotAvailableError(),
        KafkaTimeoutError(),
    ]
    flaky = FlakyProducer(producer, failures)
    republished = REGISTRY.get_sample_value("switchboard_sla_alerts_republished_total")
    scheduler = rig.scheduler(flaky)
    stop = asyncio.Event()
    running = asyncio.create_task(scheduler.run(stop))

    async def published_after_backoff() -> int | None:
        if rig.clock.sleeping:
            rig.clock.advance(BACKOFF_S)  # the scheduler waits out its backoff on the clock
        found = await rig.published()
        return found if found >= 3 else None

    try:
        assert await eventually(published_after_backoff, what="3 alerts published") == 3
        assert not running.done(), "the scheduler must keep running through broker failures"
        assert failures == []
    finally:
        stop.set()
        await asyncio.wait_for(running, 30)
        await producer.stop()
    alerts = await rig.alerts()
    assert sorted(a.id for a in alerts) == sorted(alert_id("c", *k) for k in keys(alerts))
    assert len(alerts) == 3, "each alert exactly once"
    assert scheduler.retrying is None
    again = REGISTRY.get_sample_value("switchboard_sla_alerts_republished_total")
    assert again == republished, "retried in place, not left to the crash-recovery sweep"


async def test_one_lifecycle_id_from_two_desktops_answers_both_contacts(rig: Rig) -> None:
    arrived = rig.clock.now()
    answered = after(arrived, 0.3)
    steps = [
        step(contact, "first_response", answered).model_copy(
            update={"id": "lc-0001", "source": desktop}
        )
        for contact, desktop in (("chat-a", "desktop/one"), ("chat-b", "desktop/two"))
    ]
    group = rig.settings.consumer_group or "sla"

    async def read(topic: str, records: int) -> bool:
        return sum((await committed(rig.kafka, group, topic)).values()) == records

    stored = "SELECT count(*) FROM sla.lifecycle WHERE kind = 'first_response'"
    pending = "SELECT count(*) FROM sla.due_alerts WHERE target = 'first_response'"
    s = rig.settings
    async with rig.running():
        await rig.send(
            decision("chat-a", arrived_at=arrived), decision("chat-b", arrived_at=arrived)
        )
        await rig.send(*steps)
        await eventually(lambda: read(s.decisions_topic, 2), what="the two decisions")
        await eventually(lambda: read(s.lifecycle_topic, 2), what="the two first responses")
        assert await rig.count(stored) == 2, "both first responses are recorded"
        assert await rig.count(pending) == 0, "neither contact can breach its first response"
        # The same steps again (a replay) change nothing.
        await rig.send(*steps)
        await eventually(lambda: read(s.lifecycle_topic, 4), what="the replayed steps")
    assert await rig.count(stored) == 2
    assert await rig.count(pending) == 0
