"""Metrics every consumer exports; names declared once, labels bounded.

`consumer` is the service name and `partition` is bounded by the partition count:
never a contact or customer id as a label.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter as Tally
from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram

RECORDS = Counter(
    "switchboard_consumer_records_total",
    "Records consumed, valid or not.",
    ["consumer", "topic"],
)
DEAD_LETTERS = Counter(
    "switchboard_consumer_dead_letters_total",
    "Records sent to the dead-letter topic, by the class of what was wrong.",
    ["consumer", "topic", "error_class"],
)
OUTPUTS = Counter(
    "switchboard_producer_records_total",
    "Records produced and acknowledged by the broker.",
    ["consumer", "topic"],
)
BATCHES = Counter(
    "switchboard_consumer_batches_total",
    "Batches processed and committed.",
    ["consumer"],
)
BATCH_SECONDS = Histogram(
    "switchboard_consumer_batch_duration_seconds",
    "Time from fetching a batch to committing its offsets.",
    ["consumer"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
BATCH_RECORDS = Histogram(
    "switchboard_consumer_batch_records",
    "Records per batch.",
    ["consumer"],
    buckets=(1, 5, 10, 50, 100, 250, 500, 1000, 2500, 5000),
)
TRANSIENT_ERRORS = Counter(
    "switchboard_consumer_transient_errors_total",
    "Transient failures retried with backoff, by stage (database, produce, commit).",
    ["consumer", "stage"],
)
ABANDONED_BATCHES = Counter(
    "switchboard_consumer_abandoned_batches_total",
    "Batches given up uncommitted (rebalance or shutdown); their records are read again.",
    ["consumer", "cause"],
)
LAG = Gauge(
    "switchboard_consumer_lag_records",
    "Records behind the partition's high watermark, after the last committed batch.",
    ["consumer", "topic", "partition"],
)
ASSIGNED = Gauge(
    "switchboard_consumer_assigned_partitions",
    "Partitions assigned to this instance.",
    ["consumer"],
)
LAST_POLL = Gauge(
    "switchboard_consumer_last_poll_timestamp_seconds",
    "Unix time of the consumer loop's last poll; a stalled loop stops moving it.",
    ["consumer"],
)
EVENT_AGE = Histogram(
    "switchboard_consumer_event_age_seconds",
    "Time from a record's broker timestamp (its producer's create time) to its batch's commit.",
    ["consumer", "topic"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)


def observe_many(histogram: Histogram, amounts: Iterable[float]) -> None:
    """`histogram.observe(a)` for each of `amounts`, with one update per bucket.

    prometheus-client has no batch observe, and observing each event of a batch in turn
    costs more than deciding it. The buckets are found as `observe` finds them (the first
    upper bound at or above the amount); the private fields are those `observe` updates.
    """
    histogram._raise_if_not_observable()  # type: ignore[no-untyped-call]  # as `observe` does
    bounds = histogram._upper_bounds
    total = 0.0
    counts: Tally[int] = Tally()
    for amount in amounts:
        total += amount
        counts[bisect_left(bounds, amount)] += 1
    if not counts:
        return
    histogram._sum.inc(total)
    for index, n in counts.items():
        histogram._buckets[index].inc(n)
