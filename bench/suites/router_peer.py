"""router_peer: the naive peer (`bench.peer`) doing the router's job, beside the router.

Runs after the `router` suite (suites run in name order) on the same broker, database
server and kind of input, and prints:

- `peer_router_events_per_s` (with the pass-through ratios) and
  `peer_router_cpu_us_per_event`, its process CPU time per decision (and the stack's,
  `peer_router_stack_cpu_us_per_event`, with `peer_router_cpu_bound_vs_passthrough`);
- `router_vs_peer`: the router's events/s from this run over the peer's;
- `peer_router_p50_ms_at_50` / `peer_router_p99_ms_at_50`: its publish-to-decision latency
  at a steady 50 contacts/s, and `router_vs_peer_p99_at_50`, the router's p99 at that rate
  over the peer's (below 1: the router is faster where a per-message design is at its best).
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime

from bench.common import drain, publish, reader
from bench.context import BenchContext
from bench.suites.router import _contact, _record, latency
from switchboard_events import CONTACTS_ENRICHED
from switchboard_runtime.kafka import create_topics

BACKLOG = 2_000
DRAIN_TIMEOUT_S = 240
LATENCY_RATE = 50
LATENCY_SECONDS = 10


async def run(ctx: BenchContext) -> None:
    settings = ctx.kafka
    suffix = f".b{uuid.uuid4().hex[:8]}"
    source, sink = CONTACTS_ENRICHED + suffix, "peer.decisions" + suffix
    await create_topics(settings, [source, sink])
    rng = random.Random(13)
    now = datetime.now(UTC)
    await publish(settings, source, [_record(_contact(rng, "p", i, now)) for i in range(BACKLOG)])
    decisions = reader(settings, sink)
    await decisions.start()
    try:
        proc = ctx.start_service(
            "bench.peer",
            {
                "PEER_DATABASE_URL": await ctx.new_database(),
                **settings.as_env("PEER_"),
                "PEER_SOURCE_TOPIC": source,
                "PEER_SINK_TOPIC": sink,
                "PEER_CONSUMER_GROUP": f"peer{suffix}",
            },
        )
        drained = await drain(
            decisions, BACKLOG, DRAIN_TIMEOUT_S, "peer decisions", ctx.meter(proc.pid)
        )
    finally:
        await decisions.stop()
    ctx.emit_drain("peer_router", drained)
    router = ctx.figures.get("router_events_per_s")
    if router is not None:
        ctx.emit("router_vs_peer", router / drained.events_per_s, "ratio")
    # The peer keys its decisions as it consumed them (by customer): its value names the contact.
    delays = await latency(
        settings,
        source,
        sink,
        LATENCY_RATE,
        LATENCY_SECONDS,
        contact_of=lambda m: str(json.loads(m.value)["contact_id"]).encode(),
    )
    ctx.emit_latency("peer_router", delays, LATENCY_RATE)
    router_p99 = ctx.figures.get(f"router_p99_ms_at_{LATENCY_RATE}")
    if router_p99 is not None:
        peer_p99 = ctx.figures[f"peer_router_p99_ms_at_{LATENCY_RATE}"]
        ctx.emit(f"router_vs_peer_p99_at_{LATENCY_RATE}", router_p99 / peer_p99, "ratio")
