"""A batch's tail (produce, acks, commit) overlaps the next batch, on the real broker.

The runner's producer is a real one whose `send_batch` waits at a gate, or fails while
told to: that holds a tail pending for as long as a test needs, without timing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, cast

import echo_service
import pytest
from aiokafka import AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaTimeoutError
from runtime_fixtures import EchoSetup

from switchboard_runtime import kafka
from switchboard_runtime.clock import SYSTEM_CLOCK, Clock
from switchboard_runtime.runner import POLL_TIMEOUT_MS, BatchRunner, Progress, ProgressHook
from switchboard_runtime.testing import eventually, runner_task
from switchboard_runtime.testing.clock import ManualClock
from switchboard_runtime.testing.kafka import committed, publish, read_to_end, read_until

pytestmark = pytest.mark.integration

KEY = b"one-key"  # one key: every record on one partition, in order


class GatedProducer:
    """A started producer whose batches wait for `open` and fail with `failure` if set."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer
        self.open = asyncio.Event()
        self.open.set()
        self.waiting = asyncio.Event()
        self.failure: Exception | None = None

    async def send_batch(self, *args: Any, **kwargs: Any) -> Any:
        self.waiting.set()
        await self.open.wait()
        if self.failure is not None:
            raise self.failure
        return await self._producer.send_batch(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._producer, name)


def events(count: int, start: int = 0) -> list[tuple[bytes, bytes]]:
    return [
        (KEY, json.dumps({"id": f"e{i}", "n": i}).encode()) for i in range(start, start + count)
    ]


@asynccontextmanager
async def gated_runner(
    echo: EchoSetup,
    on_progress: ProgressHook | None = None,
    poll_timeout_ms: int = POLL_TIMEOUT_MS,
    clock: Clock = SYSTEM_CLOCK,
) -> AsyncIterator[tuple[BatchRunner[Any], GatedProducer, asyncio.Task[None]]]:
    s = echo.settings
    gated = GatedProducer(kafka.make_producer(s.kafka, "overlap-test"))
    async with runner_task(
        "echo",
        s,
        {echo.input: echo_service.decode},
        echo_service.make_handler(s),
        producer=cast(AIOKafkaProducer, gated),
        poll_timeout_ms=poll_timeout_ms,
        on_progress=on_progress,
        clock=clock,
    ) as (runner, task):
        try:
            yield runner, gated, task
        finally:  # a tail held or failing at the gate would keep the runner from stopping
            gated.failure = None
            gated.open.set()


async def total_committed(echo: EchoSetup) -> int:
    return sum((await committed(echo.kafka, echo.group, echo.input)).values())


async def outputs_by_id(echo: EchoSetup, count: int) -> list[str]:
    out = await read_until(
        echo.kafka,
        echo.output,
        lambda got: len({json.loads(m.value)["id"] for m in got}) >= count,
        timeout=60,
        what=f"an output for each of {count} records",
    )
    return [json.loads(m.value)["id"] for m in sorted(out, key=lambda m: (m.partition, m.offset))]


async def hold_first_batch_and_apply_the_next(echo: EchoSetup, gated: GatedProducer) -> None:
    """Publish e0..e9, hold their tail at the gate, publish e10..e19 and wait until those
    are applied too: one tail pending, the next batch's transaction committed."""
    gated.open.clear()
    await publish(echo.kafka, echo.input, events(10))
    await asyncio.wait_for(gated.waiting.wait(), 30)
    await publish(echo.kafka, echo.input, events(10, start=10))

    async def applied() -> bool:
        return len(await echo.effects()) == 20

    await eventually(applied, timeout=30, what="e10..e19 applied while e0..e9's tail is held")


async def test_the_next_batch_is_applied_while_a_tail_is_pending(echo: EchoSetup) -> None:
    async with gated_runner(echo) as (_, gated, _task):
        await hold_first_batch_and_apply_the_next(echo, gated)
        assert await read_to_end(echo.kafka, echo.output) == []
        assert await total_committed(echo) == 0, "nothing is committed before its outputs"
        gated.open.set()
        ids = await outputs_by_id(echo, 20)

        async def all_committed() -> bool:
            return await total_committed(echo) == 20

        await eventually(all_committed, timeout=30, what="all 20 offsets committed")
    assert ids == [f"e{i}" for i in range(20)], "outputs keep batch order, each once"


async def test_stop_finishes_the_pending_tail(echo: EchoSetup) -> None:
    async with gated_runner(echo) as (runner, gated, task):
        gated.open.clear()
        await publish(echo.kafka, echo.input, events(10))
        await asyncio.wait_for(gated.waiting.wait(), 30)
        runner.stop()
        gated.open.set()
        await asyncio.wait_for(task, 30)
        assert await total_committed(echo) == 10
    assert await outputs_by_id(echo, 10) == [f"e{i}" for i in range(10)]


async def test_an_abandoned_tail_takes_the_next_batch_along(echo: EchoSetup) -> None:
    async with gated_runner(echo) as (runner, gated, task):
        gated.failure = KafkaTimeoutError()  # transient: the tail retries it until stopped
        await hold_first_batch_and_apply_the_next(echo, gated)
        gated.open.set()
        await eventually(
            lambda: runner.state.retrying is not None,
            timeout=30,
            what="the tail to retry its produce",
        )
        runner.stop()
        await asyncio.wait_for(task, 30)
        assert await total_committed(echo) == 0, "neither batch may commit past the lost tail"
    # The next owner re-reads both batches; the handler re-emits their outputs.
    async with gated_runner(echo):
        ids = await outputs_by_id(echo, 20)

        async def all_committed() -> bool:
            return await total_committed(echo) == 20

        await eventually(all_committed, timeout=30, what="all 20 offsets committed")
    assert ids == [f"e{i}" for i in range(20)]


async def test_a_tail_still_retrying_stays_reported_after_the_next_transaction(
    echo: EchoSetup,
) -> None:
    clock = ManualClock()  # the tail's backoff lasts until the clock moves
    async with gated_runner(echo, clock=clock) as (runner, gated, _task):
        gated.failure = KafkaTimeoutError()
        await publish(echo.kafka, echo.input, events(10))
        await clock.until_sleeping(1, timeout=30)
        assert (runner.state.retrying or "").startswith("produce")
        await publish(echo.kafka, echo.input, events(10, start=10))

        async def applied() -> bool:
            return len(await echo.effects()) == 20

        await eventually(applied, timeout=30, what="e10..e19 applied behind the retrying tail")
        assert (runner.state.retrying or "").startswith("produce"), "/readyz must still say so"
        gated.failure = None
        clock.advance(3600)
        assert await outputs_by_id(echo, 20) == [f"e{i}" for i in range(20)]
        await eventually(
            lambda: runner.state.retrying is None, timeout=30, what="the retry to be over"
        )


async def test_a_produce_error_that_is_not_transient_ends_the_run(echo: EchoSetup) -> None:
    async with gated_runner(echo) as (_, gated, task):
        gated.failure = RuntimeError("the broker refused the batch for good")
        await publish(echo.kafka, echo.input, events(10))
        with pytest.raises(RuntimeError, match="for good"):
            await asyncio.wait_for(task, 30)
        assert await total_committed(echo) == 0


async def test_progress_never_runs_ahead_of_a_pending_tail(echo: EchoSetup) -> None:
    reports: list[Progress] = []

    async def record(progress: Mapping[TopicPartition, Progress]) -> None:
        reports.extend(p for tp, p in progress.items() if tp.topic == echo.input and p.highwater)

    # A long poll: progress must follow the tail's end at once, not the poll's.
    async with gated_runner(echo, on_progress=record, poll_timeout_ms=15_000) as (_, gated, _task):
        gated.open.clear()
        await publish(echo.kafka, echo.input, events(10))
        await asyncio.wait_for(gated.waiting.wait(), 30)
        await eventually(
            lambda: any(p.highwater == 10 for p in reports),
            timeout=30,
            what="a progress report after e0..e9 were fetched and applied",
        )
        assert all(p.position == 0 for p in reports), "their tail is held: nothing committed"
        gated.open.set()
        await eventually(
            lambda: any(p.position == 10 for p in reports),
            timeout=8,
            what="progress reaching 10 as soon as the tail is done, before the poll ends",
        )


async def test_a_rebalance_waits_for_the_pending_tail(echo: EchoSetup) -> None:
    assigned: asyncio.Queue[set[TopicPartition]] = asyncio.Queue()

    class Recorder(ConsumerRebalanceListener):  # type: ignore[misc]
        async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
            pass

        async def on_partitions_assigned(self, partitions: set[TopicPartition]) -> None:
            await assigned.put(set(partitions))

    s = echo.settings
    async with gated_runner(echo) as (runner, gated, _task):
        await hold_first_batch_and_apply_the_next(echo, gated)
        intruder = kafka.make_consumer(s.kafka, echo.group, "overlap-intruder")
        # Subscribed after start(): given its topics up front, start() would wait for the
        # assignment, which the held tail rightly holds back.
        await intruder.start()
        try:
            intruder.subscribe([echo.input], listener=Recorder())
            reading = asyncio.create_task(intruder.getmany(timeout_ms=30_000))
            await eventually(
                lambda: runner._revoking,
                timeout=30,
                what="the runner's revocation to wait for its pending tail",
            )
            assert await total_committed(echo) == 0
            gated.open.set()
            await asyncio.wait_for(assigned.get(), 60)
            assert await total_committed(echo) == 20, "both tails committed before the handover"
            reading.cancel()
        finally:
            await intruder.stop()
    ids = await outputs_by_id(echo, 20)
    assert ids == [f"e{i}" for i in range(20)], "nothing re-read: no output twice"
