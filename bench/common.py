"""Helpers shared by suites that drive real service processes: publish, wait, drain, time."""

from __future__ import annotations

import asyncio
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Sequence
from contextlib import suppress

from aiokafka import AIOKafkaConsumer

from switchboard_runtime.kafka import make_consumer, make_producer
from switchboard_runtime.settings import KafkaSettings

PUBLISH_CHUNK = 2000


async def publish(
    settings: KafkaSettings, topic: str, records: Sequence[tuple[bytes, bytes]]
) -> None:
    """Send (key, value) pairs as fast as the broker takes them, acks=all."""
    producer = make_producer(settings, "bench-publish")
    await producer.start()
    try:
        for n in range(0, len(records), PUBLISH_CHUNK):
            chunk = records[n : n + PUBLISH_CHUNK]
            await asyncio.gather(*[await producer.send(topic, v, key=k) for k, v in chunk])
    finally:
        await producer.stop()


def reader(settings: KafkaSettings, topic: str) -> AIOKafkaConsumer:
    """A consumer of `topic` from its start, in a group of its own."""
    return make_consumer(settings, f"bench-read-{uuid.uuid4().hex[:6]}", "bench-read", topic)


def _ready(port: int) -> bool:
    with (
        suppress(OSError),
        urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response,
    ):
        return bool(response.status == 200)
    return False


async def wait_ready(proc: subprocess.Popen[bytes], port: int, timeout: float, what: str) -> None:
    """Wait for the process's /readyz to answer 200 (partitions assigned, DB and broker up)."""
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(_ready, port):
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with status {proc.returncode} before it was ready")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} was not ready after {timeout:.0f} s")
        await asyncio.sleep(0.3)


async def drain_rate(consumer: AIOKafkaConsumer, count: int, timeout: float, what: str) -> float:
    """Records per second arriving on `consumer`, from the first batch to the `count`-th record.

    The first batch is left out of the count: it only marks when the stream began.
    """
    seen = first_batch = 0
    first = last = 0.0
    deadline = time.monotonic() + timeout
    while seen < count and time.monotonic() < deadline:
        batch = await consumer.getmany(timeout_ms=200, max_records=5000)
        n = sum(len(m) for m in batch.values())
        if not n:
            continue
        now = time.perf_counter()
        if not seen:
            first, first_batch = now, n
        seen += n
        last = now
    if seen < count:
        raise RuntimeError(f"{what}: {seen} of {count} records arrived in {timeout:.0f} s")
    return (seen - first_batch) / (last - first)


def percentile(sorted_values: Sequence[float], share: float) -> float:
    """The value below which `share` of the sorted values lie (nearest rank)."""
    return sorted_values[max(0, int(len(sorted_values) * share) - 1)]
