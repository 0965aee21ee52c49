"""Broker helpers for tests: publish records, read a topic back, read a group's commits,
count a topic's records.

Every client comes from the runtime's factory, so the helpers work on a secured cluster."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from switchboard_runtime.kafka import make_consumer, make_producer
from switchboard_runtime.settings import KafkaSettings
from switchboard_runtime.testing.wait import POLL_S, eventually


@dataclass(frozen=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]

    @classmethod
    def of(cls, tp: TopicPartition, record: Any) -> Message:
        """A consumed record, its headers as a dict."""
        headers = {k: bytes(v) for k, v in record.headers}
        return cls(tp.topic, tp.partition, record.offset, record.key, record.value, headers)


async def publish(
    settings: KafkaSettings,
    topic: str,
    records: Iterable[tuple[bytes | None, bytes]],
    headers: Sequence[tuple[str, bytes]] = (),
) -> int:
    """Send (key, value) pairs with acks=all; returns how many were sent."""
    producer: AIOKafkaProducer = make_producer(settings, client_id="test-publisher")
    try:
        await producer.start()  # in the try: a refused start must close the client too
        futures = [
            await producer.send(topic, value, key=key, headers=list(headers))
            for key, value in records
        ]
        await asyncio.gather(*futures)
        return len(futures)
    finally:
        await producer.stop()


async def read_topic(
    settings: KafkaSettings, topic: str, expected: int, timeout: float = 30.0
) -> list[Message]:
    """Read `topic` from the start until `expected` records arrived or `timeout` passed.

    Returns what arrived, so a test can assert on the count with a clear message. Read
    without a consumer group (joining one takes half a session timeout on the embedded
    broker); a topic not created yet is waited for until the deadline.
    """
    consumer = make_consumer(settings, None, "test-reader")
    await consumer.start()
    found: list[Message] = []
    deadline = time.monotonic() + timeout
    try:
        partitions = await _from_start(consumer, topic)
        while not partitions and time.monotonic() < deadline:
            await asyncio.sleep(POLL_S)  # the polling interval for the topic to be created
            partitions = await _from_start(consumer, topic)
        while partitions and len(found) < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(*partitions, timeout_ms=200)
            for tp, messages in batch.items():
                found.extend(Message.of(tp, m) for m in messages)
        return found
    finally:
        await consumer.stop()


async def _from_start(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    """Assign every partition `topic` has now to the group-less `consumer`, at offset 0."""
    await consumer._client.force_metadata_update()
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
    if partitions:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
    return partitions


async def committed(settings: KafkaSettings, group: str, topic: str) -> dict[int, int]:
    """The group's committed offset per partition (partitions without one are left out).

    Read with `consumer.committed()`: the embedded broker does not answer the admin
    client's list-offsets call for groups.
    """
    consumer = make_consumer(settings, group, "test-committed")
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        if partitions is None:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        offsets: dict[int, int] = {}
        for partition in sorted(partitions):
            offset = await consumer.committed(TopicPartition(topic, partition))
            if offset is not None:
                offsets[partition] = offset
        return offsets
    finally:
        await consumer.stop()


async def topic_size(settings: KafkaSettings, topic: str, timeout: float = 30.0) -> int:
    """How many records `topic` holds: the sum of its partitions' high watermarks.

    Taken from fetch responses: the embedded broker's list-offsets answer is not the
    record count.
    """
    consumer = make_consumer(settings, None, "test-size")
    await consumer.start()
    try:
        partitions = await _from_start(consumer, topic)
        deadline = time.monotonic() + timeout
        while any(consumer.highwater(tp) is None for tp in partitions):
            if time.monotonic() > deadline:
                raise AssertionError(f"no high watermark for every partition of {topic}")
            await consumer.getmany(*partitions, timeout_ms=200)
        return sum(consumer.highwater(tp) or 0 for tp in partitions)
    finally:
        await consumer.stop()


async def read_to_end(settings: KafkaSettings, topic: str, timeout: float = 30.0) -> list[Message]:
    """Every record `topic` holds now, in partition order, up to the high watermarks a
    fetch reports: to prove something was not produced. Read without a consumer group,
    since joining one takes seconds."""
    consumer = make_consumer(settings, None, "test-read-to-end")
    await consumer.start()
    try:
        partitions = await _from_start(consumer, topic)
        found: dict[TopicPartition, list[Message]] = {tp: [] for tp in partitions}
        next_offset = dict.fromkeys(partitions, 0)

        async def at_end() -> bool:
            batch = await consumer.getmany(*partitions, timeout_ms=200)
            for tp, messages in batch.items():
                found[tp].extend(Message.of(tp, m) for m in messages)
                if messages:
                    next_offset[tp] = messages[-1].offset + 1
            ends = {tp: consumer.highwater(tp) for tp in partitions}
            return all(end is not None and next_offset[tp] >= end for tp, end in ends.items())

        await eventually(at_end, timeout=timeout, what=f"every record of {topic}")
        return [m for tp in sorted(partitions) for m in found[tp]]
    finally:
        await consumer.stop()


async def read_until(
    settings: KafkaSettings,
    topic: str,
    enough: Callable[[list[Message]], bool],
    *,
    what: str,
    timeout: float = 60.0,
) -> list[Message]:
    """Every record of `topic`, read again until `enough` of them arrived.

    For at-least-once outputs: after a crash a count of records can be reached by
    redelivered copies before the last distinct ones arrive.
    """

    async def arrived() -> list[Message] | None:
        found = await read_to_end(settings, topic, timeout)
        return found if enough(found) else None

    return await eventually(arrived, timeout=timeout, interval=0.5, what=what)
