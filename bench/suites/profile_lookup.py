"""profile-lookup: enrichment throughput and latency against a realistically sized database.

Seeds 100,000 customers (a phone and an email each, a few shared phones) and
1,000,000 history rows with `INSERT ... SELECT generate_series`, starts the real
service (`python -m profile_lookup`) as a process, then:

- `profile_lookup_events_per_s`: drains a backlog of inbound contacts (a mix of known
  senders spelled many ways, CRM ids, strangers, withheld and unparseable numbers)
  and measures enriched outputs per second, from the first output to the last (`ROUNDS`
  backlogs in one, measured in as many spans; the median span is the figure);
  `vs_passthrough` divides it by the same run's raw pass-through; with the service's own
  and the whole stack's CPU per event and `profile_lookup_cpu_bound_vs_passthrough`;
- `profile_lookup_p50_ms` / `profile_lookup_p99_ms`: publish-to-enriched-output
  latency at a steady 1,000 contacts/s;
- `profile_lookup_floor_*`: the same kind of backlog through profile-lookup's host and
  runner with a handler that only claims and echoes (`bench.floor`), the cost before any
  enrichment, and `profile_lookup_floor_cpu_share`, its CPU per event over the service's.
"""

from __future__ import annotations

import json
import random
import statistics
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer

from bench.common import ROUNDS, Drain, drain, percentile, publish, reader, steady_latency
from bench.context import BenchContext
from switchboard_events.topics import CONTACTS_ENRICHED, CONTACTS_INBOUND, CONTACTS_LIFECYCLE, dlq
from switchboard_runtime.kafka import create_topics
from switchboard_runtime.settings import KafkaSettings

CUSTOMERS = 100_000
HISTORY_ROWS = 1_000_000
SHARED_PHONES = 500
BACKLOG = 30_000
"""Per round of the drain (`ROUNDS`)."""
LATENCY_RATE = 1_000
LATENCY_SECONDS = 15
STARTUP_TIMEOUT_S = 120

SEED = [
    f"""
    INSERT INTO profiles.customers (customer_id, external_ref, tier, segment, display_name,
                                    language, region, timezone, country, lifetime_value)
    SELECT 'bench-' || i, 'crm-' || i,
           (ARRAY['standard', 'standard', 'standard', 'premium', 'vip'])[1 + i % 5],
           (ARRAY['consumer', 'smb', 'enterprise'])[1 + i % 3],
           'Customer ' || i, 'en', 'UK', 'Europe/London', 'GB', (i % 1000) * 10.5
    FROM generate_series(1, {CUSTOMERS}) AS i
    """,
    f"""
    INSERT INTO profiles.identities (kind, value, customer_id)
    SELECT 'phone', '+447400' || lpad(i::text, 6, '0'), 'bench-' || i
    FROM generate_series(1, {CUSTOMERS}) AS i
    UNION ALL
    SELECT 'email', 'customer' || i || '@example.com', 'bench-' || i
    FROM generate_series(1, {CUSTOMERS}) AS i
    UNION ALL
    SELECT 'phone', '+447400' || lpad(i::text, 6, '0'), 'bench-' || ({CUSTOMERS} - i)
    FROM generate_series(1, {SHARED_PHONES}) AS i
    """,
    f"""
    INSERT INTO profiles.contacts
        (contact_id, inbound_event_id, customer_id, channel, contact_type, occurred_at,
         identification, status, status_at, closed_at, csat, csat_at, recorded_at)
    SELECT 'hist-' || n, 'hist-ev-' || n, 'bench-' || (1 + n % {CUSTOMERS}),
           (ARRAY['call', 'chat', 'email', 'social'])[1 + n % 4],
           (ARRAY['billing', 'technical', 'general', 'sales', 'complaint'])[1 + n % 5],
           t, 'known',
           CASE n % 10 WHEN 0 THEN 'open' WHEN 1 THEN 'abandoned' ELSE 'resolved' END,
           CASE WHEN n % 10 = 0 THEN NULL ELSE t + interval '1 hour' END,
           CASE WHEN n % 10 = 0 THEN NULL ELSE t + interval '1 hour' END,
           CASE WHEN n % 3 = 0 THEN 1 + n % 5 END,
           CASE WHEN n % 3 = 0 THEN t + interval '2 hours' END,
           t
    FROM generate_series(1, {HISTORY_ROWS}) AS n,
         LATERAL (SELECT now() - make_interval(secs => (n::bigint * 7919) % (120 * 86400))) AS x(t)
    """,
    "ANALYZE profiles.customers, profiles.identities, profiles.contacts",
]


def _sender(rng: random.Random, i: int) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(channel, sender, attributes) of one contact: mostly known customers, spelled many ways."""
    c = rng.randint(1, CUSTOMERS)
    digits = f"{c:06d}"
    roll = rng.random()
    if roll < 0.40:
        phone = rng.choice(
            (
                f"07400 {digits}",
                f"+44 7400 {digits}",
                f"tel:+44-7400-{digits}",
                f"0044 7400{digits}",
            )
        )
        return "call", {"phone": phone}, {"country": "GB"}
    if roll < 0.62:
        return "email", {"email": f"Customer {c} <Customer{c}@Example.com>"}, {}
    if roll < 0.72:
        return "chat", {"external_ref": f"crm-{c}", "display_name": "C"}, {"country": "GB"}
    if roll < 0.82:
        return "call", {"phone": f"+44 7700 9{i % 100000:05d}"}, {"country": "GB"}
    if roll < 0.92:
        return "email", {"email": f"stranger{i}@example.org"}, {}
    if roll < 0.96:
        return "call", {"withheld": True}, {}
    return "call", {"phone": "12ab"}, {}


def _event(rng: random.Random, run: str, i: int, phase: str) -> tuple[bytes, bytes]:
    channel, sender, attributes = _sender(rng, i)
    now = datetime.now(UTC).isoformat()
    contact_id = f"{run}-{phase}-{i}"
    event = {
        "specversion": "1.0",
        "id": f"ev-{contact_id}",
        "source": "bench/profile-lookup",
        "type": "switchboard.contact.received.v1",
        "subject": contact_id,
        "time": now,
        "producedtime": now,
        "data": {
            "contact_id": contact_id,
            "channel": channel,
            "sender": sender,
            "contact_type": rng.choice(("billing", "technical", "general", "sales", "complaint")),
            "attributes": attributes | {"sent_at": time.time(), "phase": phase},
        },
    }
    return contact_id.encode(), json.dumps(event).encode()


async def _seed(database_url: str) -> float:
    conn = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    started = time.perf_counter()
    try:
        for statement in SEED:
            await conn.execute(statement)
    finally:
        await conn.close()
    return time.perf_counter() - started


async def _latency(
    settings: KafkaSettings, reader: AIOKafkaConsumer, topic: str, run: str
) -> list[float]:
    rng = random.Random(2)

    def delay_ms(message: Any, now: float) -> float | None:
        attributes = json.loads(message.value)["data"]["contact"]["attributes"]
        if attributes.get("phase") != "latency":
            return None
        return float((now - attributes["sent_at"]) * 1000)

    return await steady_latency(
        settings,
        topic,
        reader,
        count=LATENCY_RATE * LATENCY_SECONDS,
        rate=LATENCY_RATE,
        make=lambda i: _event(rng, run, i, "latency"),
        delay_ms=delay_ms,
        what="profile-lookup enrichments",
    )


async def run(ctx: BenchContext) -> None:
    database_url = await ctx.new_database()
    seeded_in = await _seed(database_url)
    print(
        f"# profile_lookup: seeded {CUSTOMERS} customers and {HISTORY_ROWS} history rows"
        f" in {seeded_in:.0f} s",
        flush=True,
    )
    settings = ctx.kafka
    suffix, inbound, enriched = await _topics(settings)
    run_id = uuid.uuid4().hex[:6]
    enriched_out = reader(settings, enriched)
    await enriched_out.start()
    try:
        drained = await _drain_backlog(
            ctx, suffix, inbound, enriched_out, database_url, run_id, "profile_lookup"
        )
        ctx.emit_drain("profile_lookup", drained)
        delays = sorted(await _latency(settings, enriched_out, inbound, run_id))
    finally:
        await enriched_out.stop()
    if not delays:
        raise RuntimeError("no enriched output arrived during the latency run")
    ctx.emit("profile_lookup_p50_ms", statistics.median(delays), "ms")
    ctx.emit("profile_lookup_p99_ms", percentile(delays, 0.99), "ms")
    ctx.stop_services()  # idle, it would still poll the broker beside the floor
    await _floor(ctx, drained.cpu_us_per_event)


async def _floor(ctx: BenchContext, service_cpu_us_per_event: float) -> None:
    """`profile_lookup_floor_*`: `bench.floor` in profile-lookup's place drains the same
    kind of backlog (on an unseeded database: it reads no customer)."""
    suffix, inbound, enriched = await _topics(ctx.kafka)
    echoes = reader(ctx.kafka, enriched)
    await echoes.start()
    try:
        drained = await _drain_backlog(
            ctx,
            suffix,
            inbound,
            echoes,
            await ctx.new_database(),
            uuid.uuid4().hex[:6],
            "bench.floor",
            {"FLOOR_OF": "profile-lookup"},
        )
    finally:
        await echoes.stop()
    ctx.emit_drain("profile_lookup_floor", drained)
    share = drained.cpu_us_per_event / service_cpu_us_per_event
    ctx.emit("profile_lookup_floor_cpu_share", share, "ratio")


async def _topics(settings: KafkaSettings) -> tuple[str, str, str]:
    """A fresh suffix, and the inbound and enriched topics under it (with the rest of
    profile-lookup's topics)."""
    suffix = f".b{uuid.uuid4().hex[:8]}"
    inbound, enriched = CONTACTS_INBOUND + suffix, CONTACTS_ENRICHED + suffix
    lifecycle = CONTACTS_LIFECYCLE + suffix
    await create_topics(settings, [inbound, enriched, lifecycle, dlq(inbound), dlq(lifecycle)])
    return suffix, inbound, enriched


async def _drain_backlog(
    ctx: BenchContext,
    suffix: str,
    inbound: str,
    out: AIOKafkaConsumer,
    database_url: str,
    run_id: str,
    module: str,
    env: Mapping[str, str] | None = None,
) -> Drain:
    """`ROUNDS` backlogs of run `run_id` on `inbound`, drained by one `module` process in
    profile-lookup's place (left running), as `out` reads its outputs."""
    rng = random.Random(1)
    drained_count = BACKLOG * ROUNDS
    backlog = [_event(rng, run_id, i, "drain") for i in range(drained_count)]
    await publish(ctx.kafka, inbound, backlog)
    proc = ctx.start_service(
        module,
        {
            "PROFILES_DATABASE_URL": database_url,
            **ctx.kafka.as_env("PROFILES_"),
            "PROFILES_TOPIC_SUFFIX": suffix,
            "PROFILES_CONSUMER_GROUP": f"profile-lookup{suffix}",
            "PROFILES_HTTP_PORT": "0",
            "PROFILES_LOG_LEVEL": "WARNING",
            **(env or {}),
        },
    )
    return await drain(
        out,
        drained_count,
        STARTUP_TIMEOUT_S + drained_count / 500,
        f"outputs of {module}",
        ctx.meter(proc.pid),
        rounds=ROUNDS,
    )
