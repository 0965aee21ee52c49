"""router: routing throughput of the real service (`python -m router`) on the example policy.

Publishes a backlog of enriched contacts (a mix of channels, contact types, tiers,
languages, known/unknown/ambiguous customers, repeat contacts and subjects, keyed by
customer id as profile-lookup keys them) plus lifecycle events closing a share of them,
starts the router as a process, and measures decisions per second from the first
decision to the last:

- `router_events_per_s` (with `vs_passthrough`, the ratio to the same run's raw
  consume -> produce -> commit pass-through);
- `router_p50_ms` / `router_p99_ms`: publish-to-decision latency of the router alone at a
  steady 1,000 contacts/s (the pass-through's latency rate), after the backlog.

Every decision reads live load from PostgreSQL (one aggregate query per batch), stores
the decision and opens its contact, as in production.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
import urllib.request
import uuid
from collections.abc import Sequence
from contextlib import suppress
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer

from bench.context import BenchContext
from router.testing import enriched, lifecycle
from switchboard_events import (
    CONTACTS_ENRICHED,
    CONTACTS_LIFECYCLE,
    ROUTING_DECISIONS,
    Event,
    dlq,
    encode,
)
from switchboard_runtime.embedded import free_port
from switchboard_runtime.kafka import create_topics, make_producer
from switchboard_runtime.settings import KafkaSettings

BACKLOG = 30_000
CLOSED_SHARE = 0.3
STARTUP_TIMEOUT_S = 120
DRAIN_TIMEOUT_S = 150
LATENCY_RATE = 1_000
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
        language=rng.choice((None, "en-GB", "en", "de-DE")),
        repeat=rng.random() < 0.15,
        subject=rng.choice(SUBJECTS) if channel in ("email", "chat") else None,
        hint=rng.choice((None, None, 1, 2, 3, 4, 5)),
        attributes={"callback_requested": rng.random() < 0.1} if channel == "call" else None,
        at=now,
    )


async def _publish(settings: KafkaSettings, topic: str, events: Sequence[Event]) -> None:
    producer = make_producer(settings, "bench-router")
    await producer.start()
    try:
        for n in range(0, len(events), 2000):
            chunk = events[n : n + 2000]
            await asyncio.gather(
                *[
                    await producer.send(topic, encode(e), key=e.partition_key().encode())
                    for e in chunk
                ]
            )
    finally:
        await producer.stop()


def _ready(port: int) -> bool:
    with (
        suppress(OSError),
        urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response,
    ):
        return bool(response.status == 200)
    return False


async def _drain(settings: KafkaSettings, topic: str, count: int) -> float:
    reader = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.bootstrap,
        group_id=f"bench-read-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
    )
    await reader.start()
    seen = first_batch = 0
    first = last = 0.0
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    try:
        while seen < count and time.monotonic() < deadline:
            batch = await reader.getmany(timeout_ms=200, max_records=5000)
            n = sum(len(m) for m in batch.values())
            if not n:
                continue
            now = time.perf_counter()
            if not seen:
                first, first_batch = now, n
            seen += n
            last = now
    finally:
        await reader.stop()
    if seen < count:
        raise RuntimeError(f"the router decided {seen} of {count} contacts in {DRAIN_TIMEOUT_S} s")
    return (seen - first_batch) / (last - first)


async def run(ctx: BenchContext) -> None:
    settings = ctx.kafka
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
    rng = random.Random(11)
    now = datetime.now(UTC)
    contacts = [_contact(rng, "r", i, now) for i in range(BACKLOG)]
    closing = [
        lifecycle(f"r-{i}", rng.choice(("resolved", "abandoned")))
        for i in range(BACKLOG)
        if rng.random() < CLOSED_SHARE
    ]
    await _publish(settings, enriched_topic, contacts)
    await _publish(settings, lifecycle_topic, closing)

    port = free_port()
    proc = ctx.start_service(
        "router",
        {
            "ROUTER_DATABASE_URL": await ctx.new_database(),
            "ROUTER_KAFKA__BOOTSTRAP": settings.bootstrap,
            "ROUTER_TOPIC_SUFFIX": suffix,
            "ROUTER_CONSUMER_GROUP": f"router{suffix}",
            "ROUTER_HTTP_PORT": str(port),
            "ROUTER_LOG_LEVEL": "WARNING",
        },
    )
    drained = asyncio.create_task(_drain(settings, decisions_topic, BACKLOG))
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not await asyncio.to_thread(_ready, port):
        if proc.poll() is not None or time.monotonic() > deadline:
            drained.cancel()
            raise RuntimeError(f"the router did not start; see {ctx.log_dir}")
        await asyncio.sleep(0.3)
    ctx.emit("router_events_per_s", await drained, "events/s", vs_passthrough=True)
    delays = sorted(await _latency(settings, enriched_topic, decisions_topic))
    ctx.emit("router_p50_ms", statistics.median(delays), "ms")
    ctx.emit("router_p99_ms", delays[int(len(delays) * 0.99) - 1], "ms")


async def _latency(settings: KafkaSettings, source: str, sink: str) -> list[float]:
    """Publish at a steady rate; each contact's delay from its publication to its decision."""
    rng = random.Random(12)
    total = LATENCY_RATE * LATENCY_SECONDS
    sent: dict[bytes, float] = {}
    delays: list[float] = []
    reader = AIOKafkaConsumer(
        sink,
        bootstrap_servers=settings.bootstrap,
        group_id=f"bench-lat-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
    )
    producer = make_producer(settings, "bench-router-lat")
    await reader.start()
    await producer.start()

    async def publish() -> None:
        started = time.perf_counter()
        for i in range(total):
            due = started + i / LATENCY_RATE
            if (wait := due - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
            event = _contact(rng, "lat", i, datetime.now(UTC))
            sent[event.contact_id.encode()] = time.time()
            await producer.send(source, encode(event), key=event.partition_key().encode())
        await producer.flush()

    async def read() -> None:
        deadline = time.monotonic() + LATENCY_SECONDS + 60
        while len(delays) < total and time.monotonic() < deadline:
            batch = await reader.getmany(timeout_ms=200, max_records=5000)
            now = time.time()
            for messages in batch.values():
                delays.extend(
                    (now - sent[m.key]) * 1000
                    for m in messages
                    if m.key is not None and m.key in sent
                )

    try:
        await asyncio.gather(publish(), read())
    finally:
        await reader.stop()
        await producer.stop()
    if len(delays) < total:
        raise RuntimeError(f"the router decided {len(delays)} of {total} steady-rate contacts")
    return delays
