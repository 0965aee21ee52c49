"""pipeline: contact to routing decision through profile-lookup and the router together.

Both services run as processes (`python -m profile_lookup`, `python -m router`) on one
database seeded with the demo customers (`python -m switchboard_demo customers`, then
`python -m profile_lookup import`). The contacts are the demo traffic generator's
(`switchboard_demo.traffic`), its contact.received events only: known customers spelled
many ways, strangers, every channel. Once both services are ready:

- `publish_to_decision_events_per_s`: a backlog of contacts is published and the routing
  decisions are counted from the first to the last (`vs_passthrough` divides it by the
  same run's raw consume -> produce -> commit pass-through; each contact here crosses two
  such hops, each with its database transaction);
- `publish_to_decision_p50_ms` / `publish_to_decision_p99_ms`: at a steady 1,000
  contacts/s for 10 s, the delay from a contact's publication to its decision; the same
  at 50 and 200 contacts/s (`publish_to_decision_p99_ms_at_50` ...);
- `two_hops_vs_raw_hop_p99[_at_50]`: that p99 over the raw pass-through's p99 at the same
  rate (one hop, no database): what the two services add to the broker's own latency.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer

from bench.common import (
    LATENCY_RATE,
    LOW_RATE_SECONDS,
    LOW_RATES,
    drain,
    publish,
    reader,
    steady_latency,
    wait_ready,
)
from bench.context import REPO, BenchContext
from switchboard_demo.customers import demo_customers
from switchboard_demo.traffic import TrafficConfig, generate_traffic
from switchboard_events import (
    CONTACTS_ENRICHED,
    CONTACTS_INBOUND,
    CONTACTS_LIFECYCLE,
    ROUTING_DECISIONS,
    dlq,
)
from switchboard_runtime.embedded import free_port
from switchboard_runtime.kafka import create_topics
from switchboard_runtime.settings import KafkaSettings

BACKLOG_SECONDS = 20  # of demo traffic at BACKLOG_RATE: about 20,000 contacts
BACKLOG_RATE = 1_000
LATENCY_SECONDS = 10
STARTUP_TIMEOUT_S = 60
DRAIN_TIMEOUT_S = 90


def _contacts(run_id: str, seed: int, seconds: float) -> list[tuple[bytes, bytes]]:
    """The demo generator's contact.received records (key, value); lifecycle left out."""
    config = TrafficConfig(seed=seed, rate=BACKLOG_RATE, duration=seconds, run_id=run_id)
    items = generate_traffic(demo_customers(), config, datetime.now(UTC))
    return [(i.key.encode(), i.value) for i in items if i.topic == CONTACTS_INBOUND]


async def _seed_customers(ctx: BenchContext, database_url: str) -> None:
    path = ctx.log_dir / "pipeline-customers.jsonl"
    await _python(ctx, ["-m", "switchboard_demo", "customers", "--out", str(path)], {})
    await _python(
        ctx, ["-m", "profile_lookup", "import", str(path)], {"PROFILES_DATABASE_URL": database_url}
    )


async def _python(ctx: BenchContext, args: list[str], env: dict[str, str]) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        env=dict(os.environ) | env,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"python {' '.join(args)} failed ({proc.returncode}): {out.decode()}")


def _env(
    prefix: str, database_url: str, settings: KafkaSettings, suffix: str, port: int
) -> dict[str, str]:
    return {
        f"{prefix}DATABASE_URL": database_url,
        **settings.as_env(prefix),
        f"{prefix}TOPIC_SUFFIX": suffix,
        f"{prefix}CONSUMER_GROUP": f"{prefix.lower().rstrip('_')}{suffix}",
        f"{prefix}HTTP_PORT": str(port),
        f"{prefix}LOG_LEVEL": "WARNING",
    }


async def run(ctx: BenchContext) -> None:
    settings = ctx.kafka
    suffix = f".b{uuid.uuid4().hex[:8]}"
    inbound, enriched, lifecycle, decisions = (
        t + suffix
        for t in (CONTACTS_INBOUND, CONTACTS_ENRICHED, CONTACTS_LIFECYCLE, ROUTING_DECISIONS)
    )
    await create_topics(
        settings,
        [inbound, enriched, lifecycle, decisions, dlq(inbound), dlq(enriched), dlq(lifecycle)],
    )
    database_url = await ctx.new_database()
    await _seed_customers(ctx, database_url)
    run_id = uuid.uuid4().hex[:6]
    backlog = await asyncio.to_thread(_contacts, f"{run_id}-drain", 21, BACKLOG_SECONDS)
    runs = ((LATENCY_RATE, LATENCY_SECONDS), *((rate, LOW_RATE_SECONDS) for rate in LOW_RATES))
    steady = [
        (rate, await asyncio.to_thread(_contacts, f"{run_id}-lat{rate}", 22, seconds * rate / 1000))
        for rate, seconds in runs
    ]

    services = []
    for module, prefix in (("profile_lookup", "PROFILES_"), ("router", "ROUTER_")):
        port = free_port()
        proc = ctx.start_service(module, _env(prefix, database_url, settings, suffix, port))
        services.append((proc, port, module))
    for proc, port, module in services:
        await wait_ready(proc, port, STARTUP_TIMEOUT_S, f"{module} (logs in {ctx.log_dir})")

    out = reader(settings, decisions)
    await out.start()
    try:
        # Published only once both services are ready, so the figure is the pipeline's own.
        meter = ctx.meter(*(proc.pid for proc, _, _ in services))
        draining = asyncio.create_task(
            drain(out, len(backlog), DRAIN_TIMEOUT_S, "routing decisions of the backlog", meter)
        )
        await publish(settings, inbound, backlog)
        ctx.emit_drain("publish_to_decision", await draining)
        for rate, records in steady:
            delays = await _latency(settings, out, inbound, records, rate)
            ctx.emit_latency("publish_to_decision", delays, rate)
            at = "" if rate == LATENCY_RATE else f"_at_{rate}"
            hop = ctx.figures.get(f"passthrough_p99_ms{at}")
            if hop:
                two_hops = ctx.figures[f"publish_to_decision_p99_ms{at}"]
                ctx.emit(f"two_hops_vs_raw_hop_p99{at}", two_hops / hop, "ratio")
    finally:
        await out.stop()


async def _latency(
    settings: KafkaSettings,
    out: AIOKafkaConsumer,
    inbound: str,
    records: list[tuple[bytes, bytes]],
    rate: int,
) -> list[float]:
    """Publish `records` at `rate` per second; each one's delay from publication to decision."""
    sent: dict[bytes, float] = {}

    def make(i: int) -> tuple[bytes, bytes]:
        sent[records[i][0]] = time.time()
        return records[i]

    return await steady_latency(
        settings,
        inbound,
        out,
        count=len(records),
        rate=rate,
        make=make,
        delay_ms=lambda m, now: (now - sent[m.key]) * 1000 if m.key in sent else None,
        what="routing decisions of the steady-rate contacts",
    )
