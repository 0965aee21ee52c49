"""sla-monitor: events processed per second, and alert lag with 10,000 clocks running.

The service runs as a process (`python -m sla_monitor`) on its own database and topics,
with a bench policy: calls get a 40 s first-response target of calendar time, a warning
at 50% and an escalation 10 s after the breach.

- `sla_events_per_s`: a backlog of routing decisions and lifecycle steps (assigned,
  first response, a wait on the customer and their reply for a third, resolved; the two
  topics interleave, so some steps come before their decision) is published, then
  the service is started and drains it; the rate counts processed events (the
  `processed_events` ledger, polled) from the first to the last. `vs_passthrough`
  divides it by the same run's raw pass-through; the service's own and the whole
  stack's CPU per event, and `sla_cpu_bound_vs_passthrough`, come with it.
- `sla_alert_lag_p50_s` / `sla_alert_lag_p99_s`: 10,000 calls arrive within 10 s, so
  10,000 first-response clocks (and as many resolution clocks) run at once; 30% are
  answered between the warning and the breach (published at that moment, cancelling
  their timers under load). Every alert's fire time minus its due time (`fired_at` -
  the instant its level was reached), over all about 24,000 alerts. (A drained contact
  whose decision was processed before its steps may have fired an overdue alert in the
  meantime, rightly; those are not counted here.)
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from bench.common import Drain, ProcessMeter, Spans
from bench.context import BenchContext
from switchboard_events import (
    CONTACTS_LIFECYCLE,
    ROUTING_DECISIONS,
    SLA_ALERTS,
    Event,
    dlq,
    encode,
)
from switchboard_events.testing import decided as decision
from switchboard_events.testing import lifecycle as step
from switchboard_runtime.embedded import free_port
from switchboard_runtime.kafka import create_topics, make_producer
from switchboard_runtime.settings import KafkaSettings
from switchboard_runtime.testing.kafka import publish

DRAIN_CONTACTS = 8_000
CLOCKS = 10_000
ANSWERED_SHARE = 0.3
ARRIVAL_SPREAD_S = 10.0
DRAIN_TIMEOUT_S = 180

POLICY = """
name: bench
calendars:
  - id: always
    always_open: true
  - id: office
    timezone: Europe/London
    weekly: {mon: ["08:00-18:00"], tue: ["08:00-18:00"], wed: ["08:00-18:00"],
             thu: ["08:00-18:00"], fri: ["08:00-17:00"]}
default_calendars: {in_house: office, outsourced: always}
rules:
  - id: bench-call
    match: {channel: call}
    first_response: {target: 40s, clock: calendar, warnings: [{share: 50%}], escalations: [10s]}
default:
  first_response: {target: 4h, warnings: [{share: 75%}]}
  next_response: {target: 8h}
  resolution: {target: 3d, warnings: [{share: 80%}], escalations: [1d]}
"""


def _drain_events(run_id: str) -> tuple[list[Event], list[Event]]:
    """Decisions and lifecycle steps of contacts handled in time, long ago: no alert is due."""
    rng = random.Random(11)
    decisions: list[Event] = []
    steps: list[Event] = []
    base = datetime.now(UTC) - timedelta(hours=1)
    for i in range(DRAIN_CONTACTS):
        contact = f"{run_id}-d{i}"
        arrived = base + timedelta(seconds=i * 0.1)
        channel = rng.choice(("call", "chat", "email", "social"))
        decisions.append(decision(contact, channel=channel, arrived_at=arrived))
        at = arrived + timedelta(seconds=rng.uniform(1, 10))
        steps += [step(contact, "assigned", at), step(contact, "first_response", at)]
        if i % 3 == 0:
            steps += [
                step(contact, "waiting_on_customer", at + timedelta(seconds=5)),
                step(contact, "customer_replied", at + timedelta(seconds=30)),
                step(contact, "agent_replied", at + timedelta(seconds=40)),
            ]
        steps.append(step(contact, "resolved", at + timedelta(seconds=60)))
    return decisions, steps


def _records(events: list[Event]) -> list[tuple[bytes, bytes]]:
    return [(e.subject.encode(), encode(e)) for e in events]


async def _unfired(conn: asyncpg.Connection, run_id: str) -> str:
    """Where the alerts not yet published stand: recorded and unpublished, or still timers
    (by kind and partition, against each partition's watermarks), for a failure's message."""
    unpublished = await conn.fetchval(
        "SELECT count(*) FROM sla.alerts WHERE published_at IS NULL AND contact_id LIKE $1",
        f"{run_id}-c%",
    )
    timers = await conn.fetch(
        "SELECT kind, partition, count(*) AS n, min(due_at) AS first, max(due_at) AS last"
        " FROM sla.due_alerts WHERE contact_id LIKE $1 AND due_at <= now()"
        " GROUP BY kind, partition ORDER BY kind, partition",
        f"{run_id}-c%",
    )
    marks = await conn.fetch(
        "SELECT topic, partition, consumed_until FROM sla.watermarks ORDER BY topic, partition"
    )
    now = await conn.fetchval("SELECT now()")
    return (
        f"{unpublished} recorded and unpublished; timers due by {now}:"
        f" {[dict(r) for r in timers]}; watermarks: {[dict(r) for r in marks]}"
    )


async def _processed(database_url: str, total: int, meter: ProcessMeter) -> Drain:
    """Events per second through the service, from its first processed event to the last,
    and `meter`'s CPU time per event over the same span.

    One span, not `bench.common.ROUNDS`: the two topics drain at their own pace, so the
    spans of one drain differ in their mix of decisions and steps (80 to 123 us per event
    in one run)."""
    spans = Spans(total, 1, meter)
    conn = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        done = 0
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while time.monotonic() < deadline:
            done = int(await conn.fetchval("SELECT count(*) FROM sla.processed_events"))
            if done:
                spans.observe(done, time.perf_counter())
            if spans.done:
                return spans.median("sla-monitor processed events")
            await asyncio.sleep(0.1)  # polling the count: the service's progress is the figure
        raise RuntimeError(f"sla-monitor processed {done} of {total} events in {DRAIN_TIMEOUT_S} s")
    finally:
        await conn.close()


async def _answer_on_time(
    settings: KafkaSettings, topic: str, answers: list[tuple[datetime, Event]]
) -> None:
    """Publish each first response when it happens (after its warning, before its breach)."""
    producer = make_producer(settings, "bench-sla-answers")
    await producer.start()
    try:
        for at, event in sorted(answers, key=lambda pair: pair[0]):
            if (wait := (at - datetime.now(UTC)).total_seconds()) > 0:
                await asyncio.sleep(wait)
            await producer.send(topic, encode(event), key=event.subject.encode())
        await producer.flush()
    finally:
        await producer.stop()


async def run(ctx: BenchContext) -> None:
    settings = ctx.kafka
    suffix = f".b{uuid.uuid4().hex[:8]}"
    decisions, lifecycle, alerts = (
        t + suffix for t in (ROUTING_DECISIONS, CONTACTS_LIFECYCLE, SLA_ALERTS)
    )
    await create_topics(settings, [decisions, lifecycle, alerts, dlq(decisions), dlq(lifecycle)])
    database_url = await ctx.new_database()
    policy = ctx.log_dir / "sla-bench-policy.yaml"
    policy.write_text(POLICY)
    run_id = uuid.uuid4().hex[:6]

    drain_decisions, drain_steps = await asyncio.to_thread(_drain_events, run_id)
    total = len(drain_decisions) + len(drain_steps)
    await asyncio.gather(
        publish(settings, decisions, _records(drain_decisions)),
        publish(settings, lifecycle, _records(drain_steps)),
    )
    port = free_port()
    proc = ctx.start_service(
        "sla_monitor",
        {
            "SLA_DATABASE_URL": database_url,
            **settings.as_env("SLA_"),
            "SLA_TOPIC_SUFFIX": suffix,
            "SLA_CONSUMER_GROUP": f"sla-monitor{suffix}",
            "SLA_HTTP_PORT": str(port),
            "SLA_LOG_LEVEL": "WARNING",
            "SLA_POLICY_PATH": str(policy),
        },
    )
    ctx.emit_drain("sla", await _processed(database_url, total, ctx.meter(proc.pid)))
    if proc.poll() is not None:
        raise RuntimeError(f"sla-monitor exited with {proc.returncode}: logs in {ctx.log_dir}")

    # 10,000 calls arrived over the last 10 s: their warnings fall due 10-20 s from now.
    rng = random.Random(12)
    now = datetime.now(UTC)
    calls: list[Event] = []
    answers: list[tuple[datetime, Event]] = []
    for i in range(CLOCKS):
        contact = f"{run_id}-c{i}"
        arrived = now - timedelta(seconds=rng.uniform(0, ARRIVAL_SPREAD_S))
        calls.append(decision(contact, channel="call", arrived_at=arrived))
        if rng.random() < ANSWERED_SHARE:
            at = arrived + timedelta(seconds=rng.uniform(24, 36))
            answers.append((at, step(contact, "first_response", at)))
    expected = CLOCKS + 2 * (CLOCKS - len(answers))
    answering = asyncio.create_task(_answer_on_time(settings, lifecycle, answers))
    await publish(settings, decisions, _records(calls))
    await answering

    deadline = time.monotonic() + 120
    published = (
        "SELECT count(*) FROM sla.alerts WHERE published_at IS NOT NULL AND contact_id LIKE $1"
    )
    contacts = f"{run_id}-c%"
    # One connection for the whole wait: a new one per poll is a backend forked beside
    # the service whose lag is measured.
    conn = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        while (fired := int(await conn.fetchval(published, contacts))) < expected:
            if time.monotonic() > deadline:
                where = await _unfired(conn, run_id)
                raise RuntimeError(
                    f"{fired} of {expected} SLA alerts were fired within 120 s; {where}"
                )
            await asyncio.sleep(0.5)
        rows = await conn.fetch(
            "SELECT extract(epoch FROM fired_at - due_at) AS lag FROM sla.alerts"
            " WHERE contact_id LIKE $1",
            contacts,
        )
    finally:
        await conn.close()
    lags = sorted(float(r["lag"]) for r in rows)
    print(f"# sla_monitor: {len(lags)} alerts from {CLOCKS} concurrent clocks", flush=True)
    ctx.emit("sla_alert_lag_p50_s", statistics.median(lags), "s")
    ctx.emit("sla_alert_lag_p99_s", lags[max(0, int(len(lags) * 0.99) - 1)], "s")
