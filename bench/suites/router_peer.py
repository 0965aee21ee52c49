"""router_peer: the naive peer (`bench.peer`) doing the router's job, beside the router.

Runs after the `router` suite (suites run in name order) on the same broker, database
server and kind of input, and prints:

- `peer_router_events_per_s` (with the pass-through ratios) and
  `peer_router_cpu_us_per_event`, its process CPU time per decision;
- `router_vs_peer`: the router's events/s from this run over the peer's.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

from bench.common import ProcessMeter, drain, publish, reader
from bench.context import BenchContext
from bench.suites.router import _contact, _record
from switchboard_events import CONTACTS_ENRICHED
from switchboard_runtime.kafka import create_topics

BACKLOG = 2_000
DRAIN_TIMEOUT_S = 240


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
            decisions, BACKLOG, DRAIN_TIMEOUT_S, "peer decisions", ProcessMeter(proc.pid)
        )
    finally:
        await decisions.stop()
    ctx.emit_drain("peer_router", drained)
    router = ctx.figures.get("router_events_per_s")
    if router is not None:
        ctx.emit("router_vs_peer", router / drained.events_per_s, "ratio")
