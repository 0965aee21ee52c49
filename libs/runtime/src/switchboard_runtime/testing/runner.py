"""Run a service's batch runner in the test's own event loop, against the real broker, or
its handler on one batch without a broker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from switchboard_runtime import db, kafka
from switchboard_runtime.runner import BatchRunner, Decoder, Handler, Output, Record
from switchboard_runtime.settings import ServiceSettings

E = TypeVar("E")


@asynccontextmanager
async def running_runner(
    name: str,
    settings: ServiceSettings,
    decoders: Mapping[str, Decoder[Any]],
    handler: Handler[Any],
    sessions: async_sessionmaker[AsyncSession] | None = None,
) -> AsyncIterator[BatchRunner[Any]]:
    """The runner consumes as a task until the block ends, then stops and leaves the group.

    It is configured from `settings` exactly as the service process configures it; the
    group is `settings.consumer_group` (or `name`).
    """
    engine = None
    if sessions is None:
        engine = db.runner_engine_from(settings)  # as the service process's runner has
        sessions = db.make_sessionmaker(engine)
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
    )
    await producer.start()
    await consumer.start()
    task = asyncio.create_task(runner.run())
    try:
        yield runner
    finally:
        runner.stop()
        await asyncio.wait_for(task, 30)
        await consumer.stop()
        await producer.stop()
        if engine is not None:
            await engine.dispose()


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
