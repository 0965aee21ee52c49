"""The floor's handler emits what the router would emit a decision for, and nothing else."""

from __future__ import annotations

from bench.floor import echo_new
from switchboard_events import Event, encode
from switchboard_events.testing import enriched, lifecycle
from switchboard_runtime.db import Delivery
from switchboard_runtime.runner import Output, Record


def _record(offset: int, event: Event) -> Record[Event]:
    key = event.partition_key().encode()
    return Record("in", 0, offset, key, 0, event, encode(event))


def test_each_new_enriched_record_is_echoed_with_its_bytes_and_key() -> None:
    fresh, replayed, copied = (_record(i, enriched(f"c-{i}")) for i in range(3))
    closed = _record(3, lifecycle("c-0", "resolved"))
    deliveries = [Delivery.NEW, Delivery.REDELIVERED, Delivery.COPY, Delivery.NEW]

    outputs = echo_new("out", [fresh, replayed, copied, closed], deliveries)

    assert outputs == [Output.of("out", fresh.value, key=fresh.key)]
    assert outputs[0].value == encode(fresh.event)
