"""The runner reports how far each partition is processed, and broker outages are transient."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from typing import Any

import echo_service
import pytest
from aiokafka import TopicPartition
from aiokafka.errors import BrokerNotAvailableError, KafkaUnavailableError, ReplicaNotAvailableError
from runtime_fixtures import EchoSetup

from switchboard_runtime import db, kafka
from switchboard_runtime.retry import is_transient
from switchboard_runtime.runner import BatchRunner, Progress


def test_no_broker_available_is_transient() -> None:
    assert is_transient(KafkaUnavailableError("Unable to update metadata from [...]"))
    assert is_transient(BrokerNotAvailableError())
    assert is_transient(ReplicaNotAvailableError())


@pytest.mark.integration
async def test_progress_reports_every_assigned_partition_after_each_poll(echo: EchoSetup) -> None:
    s = echo.settings
    sent_ms = int(time.time() * 1000) - 60_000
    records = [(b"one-key", json.dumps({"id": f"e{i}", "n": i}).encode()) for i in range(30)]
    producer = kafka.make_producer(s.kafka, "progress-test")
    await producer.start()
    try:
        futures = [
            await producer.send(echo.input, value, key=key, timestamp_ms=sent_ms + i)
            for i, (key, value) in enumerate(records)
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    reports: list[dict[TopicPartition, Progress]] = []
    done = asyncio.Event()

    async def record(progress: Mapping[TopicPartition, Progress]) -> None:
        reports.append(dict(progress))
        every = len(progress) == s.kafka.partitions
        read = sum(p.highwater for p in progress.values()) == len(records)
        if every and read and all(p.caught_up for p in progress.values()):
            done.set()

    engine = db.engine_from(s)
    consumer = kafka.make_consumer(s.kafka, echo.group, "progress-test")
    out = kafka.make_producer(s.kafka, "progress-out")
    runner: BatchRunner[dict[str, Any]] = BatchRunner.from_settings(
        "echo",
        s,
        consumer=consumer,
        producer=out,
        sessions=db.make_sessionmaker(engine),
        decoders={echo.input: echo_service.decode},
        handler=echo_service.make_handler(s),
        on_progress=record,
    )
    await out.start()
    await consumer.start()
    task = asyncio.create_task(runner.run())
    try:
        await asyncio.wait_for(done.wait(), 30)
    finally:
        runner.stop()
        await asyncio.wait_for(task, 30)
        await consumer.stop()
        await out.stop()
        await engine.dispose()
    last = reports[-1]
    busy = [p for p in last.values() if p.highwater > 0]
    assert len(busy) == 1, "one key: one partition holds every record"
    assert (busy[0].position, busy[0].last_timestamp_ms) == (30, sent_ms + 29)
    idle = [p for p in last.values() if p.highwater == 0]
    assert idle
    assert all(p.last_timestamp_ms is None for p in idle), "nothing read: caught up all the same"
    assert all(p.fetched_ms >= sent_ms + 60_000 - 5_000 for p in last.values())
    behind = [p for r in reports for p in r.values() if not p.caught_up]
    assert all(p.position < p.highwater for p in behind)
