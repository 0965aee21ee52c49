"""A service's runtime without the service: what every event costs before its own work.

`python -m bench.floor serve`, with `FLOOR_OF=router` or `FLOOR_OF=profile-lookup` and
that service's own settings (`ROUTER_*` or `PROFILES_*`: its topics, its schema, its
host). It runs the same host and batch runner as the service, with the service's
decoders, and a handler that does only what the runtime demands of every handler:
claim the batch's events in the ledger (one round trip, in the runner's transaction)
and emit an output per new record of the service's main input. The output is that
record's own bytes, to the service's output topic, so the bench drains it as it drains
the service's.

Left out, against the router: the decision ids, the live-load query, the rules, building
and encoding the decision, storing decisions and contacts; against profile-lookup: the
stored contacts, normalising and identifying the sender, the history, building and
encoding the enriched event, recording the contact. So its CPU per event is the floor
the runtime and the fixed stack set (decode, ledger, transaction, produce, offset commit,
metrics, event loop), and the service's minus it is the service's own work.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import profile_lookup.config
import profile_lookup.wiring
import router.config
import router.wiring
from switchboard_events import ContactEnriched, ContactReceived, Event
from switchboard_runtime.cli import main
from switchboard_runtime.db import Claim, Delivery, claim_events
from switchboard_runtime.host import Resources, Service
from switchboard_runtime.runner import Decoder, Output, Record
from switchboard_runtime.service import ServiceSpec


def echo_new(
    topic: str,
    echoed: type[Event],
    batch: Sequence[Record[Any]],
    deliveries: Sequence[Delivery],
) -> list[Output]:
    """An output per `echoed` record claimed first here: its own bytes and key."""
    return [
        Output.of(topic, record.value, key=record.key)
        for record, delivery in zip(batch, deliveries, strict=True)
        if delivery is Delivery.NEW and isinstance(record.event, echoed)
    ]


@dataclass(frozen=True)
class Floor:
    """A service as the floor stands in for it: its record, decoders and output."""

    spec: ServiceSpec
    decoders: Callable[[Any], Mapping[str, Decoder[Any]]]
    """The service's decoders from its settings."""
    output_topic: Callable[[Any], str]
    echoed: type[Event]
    """The input the service emits an output for."""

    def build(self, resources: Resources) -> Service:
        topic = self.output_topic(resources.settings)

        async def handle(batch: Sequence[Record[Any]], session: AsyncSession) -> list[Output]:
            claims = [Claim.of(r) for r in batch]
            deliveries = await claim_events(session, self.spec.schema, claims)
            return echo_new(topic, self.echoed, batch, deliveries)

        return Service(decoders=self.decoders(resources.settings), handler=handle)


FLOORS = {
    "router": Floor(
        router.config.SERVICE,
        router.wiring.decoders,
        lambda settings: settings.decisions_topic,
        ContactEnriched,
    ),
    "profile-lookup": Floor(
        profile_lookup.config.SERVICE,
        profile_lookup.wiring.decoders,
        lambda settings: settings.enriched_topic,
        ContactReceived,
    ),
}


if __name__ == "__main__":
    name = os.environ.get("FLOOR_OF", "")
    if name not in FLOORS:
        sys.exit(f"bench.floor: set FLOOR_OF to one of {', '.join(FLOORS)} (got {name!r})")
    sys.exit(main(FLOORS[name].spec, FLOORS[name].build))
