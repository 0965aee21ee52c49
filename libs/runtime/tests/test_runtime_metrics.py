"""`observe_many` leaves a histogram as observing each amount in turn would."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from switchboard_runtime.metrics import observe_many

BUCKETS = (0.01, 0.1, 1, 10)
# Below, on and between the bounds, and past the last one (the +Inf bucket).
AMOUNTS = [0.0, 0.005, 0.01, 0.010001, 0.1, 0.5, 1, 1.5, 10, 11, 1e9, 0.5, 0.01]


def _exposition(fill: object) -> list[bytes]:
    """The histogram's sample lines but its creation time."""
    registry = CollectorRegistry()
    histogram = Histogram("h", "h", ["topic"], buckets=BUCKETS, registry=registry)
    assert callable(fill)
    fill(histogram.labels("t"))
    lines = generate_latest(registry).splitlines()
    return [line for line in lines if not line.startswith(b"h_created")]


def test_observe_many_equals_observing_each_amount() -> None:
    def one_by_one(child: Histogram) -> None:
        for amount in AMOUNTS:
            child.observe(amount)

    expected = _exposition(one_by_one)
    assert b'h_bucket{le="0.01",topic="t"} 4.0' in expected  # the test sees the buckets
    assert _exposition(lambda child: observe_many(child, AMOUNTS)) == expected


def test_observe_many_of_nothing_changes_nothing() -> None:
    assert _exposition(lambda child: observe_many(child, [])) == _exposition(lambda child: None)


def test_observe_many_refuses_a_labelled_parent_as_observe_does() -> None:
    histogram = Histogram("p", "p", ["topic"], registry=CollectorRegistry())
    with pytest.raises(ValueError, match="missing label values"):
        histogram.observe(1)
    with pytest.raises(ValueError, match="missing label values"):
        observe_many(histogram, [1])
