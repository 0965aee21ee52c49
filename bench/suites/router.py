"""router: routing throughput of the real service (`python -m router`) on the example policy.

Publishes a backlog of enriched contacts (a mix of channels, contact types, tiers,
languages, known/unknown/ambiguous customers, repeat contacts and subjects, keyed by
customer id as profile-lookup keys them) plus lifecycle events closing a share of them,
starts the router as a process, and measures decisions per second from the first
decision to the last (`ROUNDS` backlogs in one, measured in as many spans; the median span
is the figure):

- `router_events_per_s` (with `vs_passthrough`, the ratio to the same run's raw
  consume -> produce -> commit pass-through), its own and the whole stack's CPU per
  decision, and `router_cpu_bound_vs_passthrough`, the ratio that stack CPU allows;
- `router_2x_events_per_s` (and its CPU per event, memory) and `router_2x_vs_1x`: two
  router processes in one consumer group (one per core) draining a backlog as large;
- `router_floor_*`: the same drain through the router's host and runner with a handler
  that only claims and echoes (`bench.floor`), the cost before any routing, and
  `router_floor_cpu_share`, its CPU per event over the router's;
- `router_p50_ms` / `router_p99_ms`: publish-to-decision latency of the router alone at a
  steady 1,000 contacts/s (the pass-through's latency rate), after the backlog; the same
  at 50 and 200 contacts/s (`router_p99_ms_at_50` ...; the naive peer's is compared at 50).

Every decision reads live load from PostgreSQL (one aggregate query per batch), stores
the decision and opens its contact, as in production.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from bench.common import (
    LATENCY_RATE,
    LOW_RATE_SECONDS,
    LOW_RATES,
    ROUNDS,
    Drain,
    drain,
    publish,
    reader,
    steady_latency,
    wait_ready,
)
from bench.context import BenchContext
from switchboard_events import (
    CONTACTS_ENRICHED,
    CONTACTS_LIFECYCLE,
    ROUTING_DECISIONS,
    Event,
    dlq,
    encode,
)
from switchboard_events.testing import enriched, lifecycle
from switchboard_runtime.embedded import free_port
from switchboard_runtime.kafka import create_topics
from switchboard_runtime.settings import KafkaSettings

BACKLOG = 30_000
"""Per round of the single router's drain (`ROUNDS`), and the two routers' whole drain."""
CLOSED_SHARE = 0.3
STARTUP_TIMEOUT_S = 120
DRAIN_TIMEOUT_S = 150
LATENCY_SECONDS = 10

TYPES = ("general", "billing", "technical", "sales", "complaint", "refund")
TIERS = ("standard", "standard", "standard", "premium", "vip")
SUBJECTS = (None, None, "Invoice for March", "Cannot log in", "I was charged twice")


def _contact(rng: random.Random, run: str, i: int, now: datetime) -> Event:
    channel = rng.choice(("call", "call", "chat", "email", "social"))
    return enriched(
        f"{run}-{i}",
        channel=channel,
        contact_type=rng.choice(TYPES),
        status=rng.choice(("known", "known", "known", "unknown", "ambiguous")),
        tier=rng.choice(TIERS),
        customer_id=f"bench-{rng.randint(1, 20_000)}",
        language_hint=rng.choice((None, "en-GB", "en", "de-DE")),
        repeat=rng.random() < 0.15,
        subject=rng.choice(SUBJECTS) if channel in ("email", "chat") else None,
        priority_hint=rng.choice((None, None, 1, 2, 3, 4, 5)),
        attributes={"callback_requested": rng.random() < 0.1} if channel == "call" else None,
        at=now,
    )


async def run(ctx: BenchContext) -> None:
    settings = ctx.kafka
    drained, enriched_topic, decisions_topic = await _drain_backlog(ctx, "r", "router")
    ctx.emit_drain("router", drained)
    runs = ((LATENCY_RATE, LATENCY_SECONDS), *((rate, LOW_RATE_SECONDS) for rate in LOW_RATES))
    for rate, seconds in runs:
        delays = await latency(settings, enriched_topic, decisions_topic, rate, seconds)
        ctx.emit_latency("router", delays, rate)
    await _two_instances(ctx, drained.events_per_s)
    ctx.stop_services()  # idle, they would still poll the broker beside the floor
    floor, _, _ = await _drain_backlog(ctx, "f", "bench.floor", {"FLOOR_OF": "router"})
    ctx.emit_drain("router_floor", floor)
    ctx.emit("router_floor_cpu_share", floor.cpu_us_per_event / drained.cpu_us_per_event, "ratio")


async def _drain_backlog(
    ctx: BenchContext, run: str, module: str, env: Mapping[str, str] | None = None
) -> tuple[Drain, str, str]:
    """`ROUNDS` backlogs of `run` drained by one `module` process in the router's place
    (left running), measured in spans; with the enriched and the decisions topic."""
    settings = ctx.kafka
    suffix, enriched_topic, lifecycle_topic, decisions_topic = await _topics(settings)
    enriched_records, lifecycle_records = _backlog(run, BACKLOG * ROUNDS)
    await publish(settings, enriched_topic, enriched_records)
    await publish(settings, lifecycle_topic, lifecycle_records)

    proc, port = _start(ctx, settings, suffix, await ctx.new_database(), module, env)
    outputs = reader(settings, decisions_topic)
    await outputs.start()
    try:
        await wait_ready(proc, port, STARTUP_TIMEOUT_S, module)
        drained = await drain(
            outputs,
            BACKLOG * ROUNDS,
            DRAIN_TIMEOUT_S * ROUNDS,
            f"outputs of {module}",
            ctx.meter(proc.pid),
            rounds=ROUNDS,
        )
    finally:
        await outputs.stop()
    return drained, enriched_topic, decisions_topic


async def _two_instances(ctx: BenchContext, one_instance_events_per_s: float) -> None:
    """`router_2x_*`: two router processes in one consumer group on one database drain the
    same kind of backlog; CPU per event is both processes' over every decision (and the
    stack's: theirs, the broker's and the database's)."""
    settings = ctx.kafka
    suffix, enriched_topic, lifecycle_topic, decisions_topic = await _topics(settings)
    database_url = await ctx.new_database()
    started = [_start(ctx, settings, suffix, database_url) for _ in range(2)]
    decisions = reader(settings, decisions_topic)
    await decisions.start()
    try:
        for proc, port in started:
            await wait_ready(proc, port, STARTUP_TIMEOUT_S, "a router of two")
        # Published once both own partitions, so no rebalance falls inside the figure.
        meter = ctx.meter(*(proc.pid for proc, _ in started))
        draining = asyncio.create_task(
            drain(decisions, BACKLOG, DRAIN_TIMEOUT_S, "decisions of two routers", meter)
        )
        enriched_records, lifecycle_records = _backlog("r2")
        await publish(settings, enriched_topic, enriched_records)
        await publish(settings, lifecycle_topic, lifecycle_records)
        drained = await draining
    finally:
        await decisions.stop()
    ctx.emit_drain("router_2x", drained)
    ctx.emit("router_2x_vs_1x", drained.events_per_s / one_instance_events_per_s, "ratio")


async def _topics(settings: KafkaSettings) -> tuple[str, str, str, str]:
    """A fresh suffix and the router's topics under it (with their dead-letter twins)."""
    suffix = f".b{uuid.uuid4().hex[:8]}"
    enriched_topic, lifecycle_topic, decisions_topic = (
        t + suffix for t in (CONTACTS_ENRICHED, CONTACTS_LIFECYCLE, ROUTING_DECISIONS)
    )
    await create_topics(
        settings,
        [
            enriched_topic,
            lifecycle_topic,
            decisions_topic,
            dlq(enriched_topic),
            dlq(lifecycle_topic),
        ],
    )
    return suffix, enriched_topic, lifecycle_topic, decisions_topic


def _backlog(
    run: str, count: int = BACKLOG
) -> tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]]:
    """`count` enriched contacts of `run`, and lifecycle events closing CLOSED_SHARE of them."""
    rng = random.Random(11)
    now = datetime.now(UTC)
    contacts = [_contact(rng, run, i, now) for i in range(count)]
    closing = [
        lifecycle(f"{run}-{i}", rng.choice(("resolved", "abandoned")))
        for i in range(count)
        if rng.random() < CLOSED_SHARE
    ]
    return [_record(e) for e in contacts], [_record(e) for e in closing]


def _start(
    ctx: BenchContext,
    settings: KafkaSettings,
    suffix: str,
    database_url: str,
    module: str = "router",
    env: Mapping[str, str] | None = None,
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = ctx.start_service(
        module,
        {
            "ROUTER_DATABASE_URL": database_url,
            **settings.as_env("ROUTER_"),
            "ROUTER_TOPIC_SUFFIX": suffix,
            "ROUTER_CONSUMER_GROUP": f"router{suffix}",
            "ROUTER_HTTP_PORT": str(port),
            "ROUTER_LOG_LEVEL": "WARNING",
            **(env or {}),
        },
    )
    return proc, port


def _record(event: Event) -> tuple[bytes, bytes]:
    return event.partition_key().encode(), encode(event)


async def latency(
    settings: KafkaSettings,
    source: str,
    sink: str,
    rate: int,
    seconds: float,
    contact_of: Callable[[Any], bytes] = lambda message: bytes(message.key),
) -> list[float]:
    """Publish at a steady `rate`; each contact's delay from its publication to its decision
    on `sink` (`contact_of` a decision: its contact id; other contacts' are not counted)."""
    rng = random.Random(12)
    sent: dict[bytes, float] = {}

    def make(i: int) -> tuple[bytes, bytes]:
        event = _contact(rng, f"lat{rate}", i, datetime.now(UTC))
        sent[event.contact_id.encode()] = time.time()
        return _record(event)

    decisions = reader(settings, sink)
    await decisions.start()
    try:
        return await steady_latency(
            settings,
            source,
            decisions,
            count=int(rate * seconds),
            rate=rate,
            make=make,
            delay_ms=lambda m, now: (
                (now - sent[contact]) * 1000 if (contact := contact_of(m)) in sent else None
            ),
            what=f"decisions on {sink}",
        )
    finally:
        await decisions.stop()
