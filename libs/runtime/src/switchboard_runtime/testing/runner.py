"""Run a service's batch runner in the test's own event loop, against the real broker, or
its handler on one batch without a broker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from switchboard_runtime import db, kafka
from switchboard_runtime.clock import SYSTEM_CLOCK, Clock
from switchboard_runtime.runner import (
    POLL_TIMEOUT_MS,
    BatchRunner,
    Decoder,
    Handler,
    Output,
    ProgressHook,
    Record,
)
from switchboard_runtime.settings import ServiceSettings

E = TypeVar("E")
STOP_TIMEOUT_S = 30


@asynccontextmanager
async def runner_task(
    name: str,
    settings: ServiceSettings,
    decoders: Mapping[str, Decoder[Any]],
    handler: Handler[Any],
    sessions: async_sessionmaker[AsyncSession] | None = None,
    *,
    producer: AIOKafkaProducer | None = None,
    poll_timeout_ms: int = POLL_TIMEOUT_MS,
    on_progress: ProgressHook | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> AsyncIterator[tuple[BatchRunner[Any], asyncio.Task[None]]]:
    """The runner consuming as a task until the block ends, and that task: a test that
    expects `run()` to end awaits it. Then the runner stops and leaves the group.

    It is configured from `settings` exactly as the service process configures it; the
    group is `settings.consumer_group` (or `name`). `producer` (not started) stands in for
    the service's own, e.g. one that holds its batches at a gate.
    """
    engine = None
    if sessions is None:
        engine = db.runner_engine_from(settings)  # as the service process's runner has
        sessions = db.make_sessionmaker(engine)
    if producer is None:
        producer = kafka.make_producer(settings.kafka, f"{name}-test")
    consumer = kafka.make_consumer(settings.kafka, settings.consumer_group or name, f"{name}-test")
    runner: BatchRunner[Any] = BatchRunner.from_settings(
        name,
        settings,
        consumer=consumer,
        producer=producer,
        sessions=sessions,
        decoders=decoders,
        handler=handler,
        on_progress=on_progress,
        clock=clock,
        poll_timeout_ms=poll_timeout_ms,
    )
    await producer.start()
    await consumer.start()
    task = asyncio.create_task(runner.run())
    try:
        yield runner, task
    finally:
        runner.stop()
        await asyncio.wait([task], timeout=STOP_TIMEOUT_S)
        await consumer.stop()
        await producer.stop()
        if engine is not None:
            await engine.dispose()


@asynccontextmanager
async def running_runner(
    name: str,
    settings: ServiceSettings,
    decoders: Mapping[str, Decoder[Any]],
    handler: Handler[Any],
    sessions: async_sessionmaker[AsyncSession] | None = None,
) -> AsyncIterator[BatchRunner[Any]]:
    """`runner_task`'s runner; a `run()` that failed, or did not stop, fails the test."""
    async with runner_task(name, settings, decoders, handler, sessions) as (runner, task):
        yield runner
    if not task.done():
        task.cancel()
        raise TimeoutError(f"runner {name!r} did not stop within {STOP_TIMEOUT_S} s")
    task.result()


async def run_batch(
    handler: Handler[E],
    sessions: async_sessionmaker[AsyncSession],
    events: Sequence[E],
    topic: str = "test",
) -> Sequence[Output]:
    """Run `handler` on `events` as one batch in one transaction, as the runner does."""
    records = [
        Record(topic=topic, partition=0, offset=i, key=None, timestamp_ms=0, event=event)
        for i, event in enumerate(events)
    ]
    async with sessions() as session, session.begin():
        return await handler(records, session)
