"""The router's runtime without the router: what every event costs before any routing.

`python -m bench.floor serve`, configured by the router's `ROUTER_*` settings (its topics,
its schema, its host). It runs the same host and batch runner as the router, with the
router's decoders, and a handler that does only what the runtime demands of every
handler: claim the batch's events in the ledger (one round trip, in the runner's
transaction) and emit an output per new record. The output is the enriched record's
own bytes, to the decisions topic, so the bench drains it as it drains decisions.

Left out, against the router: the decision ids, the live-load query, the rules, building
and encoding the decision, storing decisions and contacts. So its CPU per event is the
floor the runtime and the fixed stack set (decode, ledger, transaction, produce, offset
commit, metrics, event loop), and the router's minus it is the router's own work.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncSession

from router.config import SERVICE, RouterSettings
from router.wiring import decoders
from switchboard_events import ContactEnriched
from switchboard_runtime.cli import main
from switchboard_runtime.db import Claim, Delivery, claim_events
from switchboard_runtime.host import Resources, Service
from switchboard_runtime.runner import Output, Record


def echo_new(
    topic: str, batch: Sequence[Record[Any]], deliveries: Sequence[Delivery]
) -> list[Output]:
    """An output per enriched record claimed first here: its own bytes and key."""
    return [
        Output.of(topic, record.value, key=record.key)
        for record, delivery in zip(batch, deliveries, strict=True)
        if delivery is Delivery.NEW and isinstance(record.event, ContactEnriched)
    ]


def build(resources: Resources) -> Service:
    settings = cast(RouterSettings, resources.settings)
    topic = settings.decisions_topic

    async def handle(batch: Sequence[Record[Any]], session: AsyncSession) -> list[Output]:
        deliveries = await claim_events(session, SERVICE.schema, [Claim.of(r) for r in batch])
        return echo_new(topic, batch, deliveries)

    return Service(decoders=decoders(settings), handler=handle)


if __name__ == "__main__":
    sys.exit(main(SERVICE, build))
