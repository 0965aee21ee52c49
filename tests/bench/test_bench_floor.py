"""The floor's handler emits what its service would emit an output for, and nothing else."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bench.floor import echo_new
from switchboard_events import ContactEnriched, ContactReceived, Event, encode
from switchboard_events.testing import enriched, inbound, lifecycle
from switchboard_runtime.db import Delivery
from switchboard_runtime.runner import Output, Record


def _record(offset: int, event: Event) -> Record[Event]:
    key = event.partition_key().encode()
    return Record("in", 0, offset, key, 0, event, encode(event))


@pytest.mark.parametrize(
    ("make", "echoed"), [(enriched, ContactEnriched), (inbound, ContactReceived)]
)
def test_each_new_input_record_is_echoed_with_its_bytes_and_key(
    make: Callable[[str], Event], echoed: type[Event]
) -> None:
    fresh, replayed, copied = (_record(i, make(f"c-{i}")) for i in range(3))
    closed = _record(3, lifecycle("c-0", "resolved"))
    deliveries = [Delivery.NEW, Delivery.REDELIVERED, Delivery.COPY, Delivery.NEW]

    outputs = echo_new("out", echoed, [fresh, replayed, copied, closed], deliveries)

    assert outputs == [Output.of("out", fresh.value, key=fresh.key)]
    assert outputs[0].value == encode(fresh.event)
