"""The baseline every throughput figure is divided by, measured in the same run.

- raw aiokafka produce and consume rates of 1 KB events;
- a consume -> produce -> commit pass-through draining a backlog (no database): the
  fastest any service could go on this broker and machine, producing with one `send()`
  per record and in batches per partition, with its CPU time per event and its stack's
  (`passthrough_stack_cpu_us_per_event`: this process and the broker's);
- the pass-through's publish-to-output latency at a steady 1,000 events/s, and at 50 and
  200 events/s (`passthrough_p99_ms_at_50` ...): the one raw hop the pipeline's two are
  compared with at the same rate;
- asyncpg insert rates on the embedded database: per row, batched, COPY.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from bench.common import (
    LATENCY_RATE,
    LOW_RATE_SECONDS,
    LOW_RATES,
    Cpu,
    Drain,
    ProcessMeter,
    reader,
    steady_latency,
)
from bench.context import BenchContext
from switchboard_runtime.kafka import create_topics, make_consumer, make_producer
from switchboard_runtime.partitioning import partition_for
from switchboard_runtime.settings import KafkaSettings

EVENT_BYTES = 1024
BACKLOG = 20_000
LATENCY_SECONDS = 15
DB_ROWS = 20_000


def payload(i: int, sent_at: float = 0.0) -> bytes:
    head = json.dumps({"i": i, "sent_at": sent_at}).encode()
    return head + b" " * (EVENT_BYTES - len(head))


async def produce(settings: KafkaSettings, topic: str, count: int) -> float:
    producer = make_producer(settings, "bench-produce")
    await producer.start()
    try:
        started = time.perf_counter()
        batch = []
        for i in range(count):
            batch.append(await producer.send(topic, payload(i), key=str(i % 97).encode()))
            if len(batch) >= 2000:
                await asyncio.gather(*batch)
                batch.clear()
        await asyncio.gather(*batch)
        return count / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def consume(settings: KafkaSettings, topic: str, count: int) -> float:
    consumer = reader(settings, topic)
    await consumer.start()
    try:
        seen = 0
        started = 0.0
        while seen < count:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            if batch and not started:
                started = time.perf_counter()
            seen += sum(len(m) for m in batch.values())
        return count / (time.perf_counter() - started)
    finally:
        await consumer.stop()


async def passthrough(
    settings: KafkaSettings,
    source: str,
    sink: str,
    count: int,
    meter: ProcessMeter,
    batched: bool = False,
) -> Drain:
    """Forward `count` records from `source` to `sink` (see `forward`); `meter`'s CPU (this
    process, and with the broker) from the first batch to the last."""
    first: list[tuple[float, Cpu]] = []
    done = await forward(
        settings,
        source,
        sink,
        count,
        asyncio.Event(),
        batched=batched,
        on_first=lambda: first.append((time.perf_counter(), meter.read())),
    )
    if not first:
        return Drain(0.0, 0.0, 0.0, meter.rss_mb())
    started, cpu_started = first[0]
    seconds = time.perf_counter() - started
    return Drain.of(done, seconds, meter.read() - cpu_started, meter.rss_mb())


async def forward(
    settings: KafkaSettings,
    source: str,
    sink: str,
    stop_after: int | None,
    stop: asyncio.Event,
    *,
    batched: bool = False,
    on_first: Callable[[], object] = lambda: None,
) -> int:
    """Forward records from `source` to `sink`, committing per batch, until `stop` or
    `stop_after` records; `on_first` runs as the first batch arrives. Returns the count.

    Produces with one `send()` per record, as the runner does, or (`batched`) one
    `send_batch()` per partition, keyed records placed as the runner places them (`partition_for`).
    """
    consumer = make_consumer(settings, f"bench-pt-{uuid.uuid4().hex[:6]}", "bench-pt", source)
    producer = make_producer(settings, "bench-pt")
    await consumer.start()
    await producer.start()
    try:
        partitions = sorted(await producer.partitions_for(sink))
        done = 0
        while not stop.is_set() and (stop_after is None or done < stop_after):
            batch = await consumer.getmany(timeout_ms=200, max_records=settings.max_batch_records)
            if not batch:
                continue
            if not done:
                on_first()
            messages = [m for ms in batch.values() for m in ms]
            if batched:
                await _send_batched(producer, partitions, sink, messages)
            else:
                pending = [await producer.send(sink, m.value, key=m.key) for m in messages]
                await asyncio.gather(*pending)
            await consumer.commit({tp: ms[-1].offset + 1 for tp, ms in batch.items()})
            done += len(messages)
        return done
    finally:
        await consumer.stop()
        await producer.stop()


async def _send_batched(
    producer: AIOKafkaProducer,
    partitions: list[int],
    topic: str,
    messages: list[Any],
) -> None:
    by_partition: dict[int, list[Any]] = {}
    for m in messages:
        by_partition.setdefault(partition_for(m.key, partitions), []).append(m)
    sent = []
    for partition, records in by_partition.items():
        batch = producer.create_batch()
        for m in records:
            if batch.append(key=m.key, value=m.value, timestamp=None) is None:
                sent.append(await producer.send_batch(batch, topic, partition=partition))
                batch = producer.create_batch()
                batch.append(key=m.key, value=m.value, timestamp=None)
        sent.append(await producer.send_batch(batch, topic, partition=partition))
    await asyncio.gather(*sent)


async def latency(
    ctx: BenchContext, source: str, sink: str, rate: int, seconds: float
) -> list[float]:
    """Publish at a steady `rate` through the pass-through; return each record's delay in ms."""
    settings = ctx.kafka
    stop = asyncio.Event()
    forwarding = asyncio.create_task(forward(settings, source, sink, None, stop))
    output = reader(settings, sink)
    await output.start()
    try:
        return await steady_latency(
            settings,
            source,
            output,
            count=int(rate * seconds),
            rate=rate,
            make=lambda i: (str(i % 97).encode(), payload(i, time.time())),
            delay_ms=lambda m, now: (now - json.loads(m.value)["sent_at"]) * 1000,
            what="the pass-through",
            grace_s=30,
        )
    finally:
        stop.set()
        await forwarding
        await output.stop()


async def database_inserts(ctx: BenchContext) -> None:
    url = ctx.postgres.dsn_for("postgres").replace("+asyncpg", "")
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "CREATE TEMP TABLE bench_rows (id bigint PRIMARY KEY, body text NOT NULL)"
        )
        rows = [(i, f"row {i}") for i in range(DB_ROWS)]
        per_row = rows[: DB_ROWS // 4]
        started = time.perf_counter()
        for row in per_row:
            await conn.execute("INSERT INTO bench_rows VALUES ($1, $2)", *row)
        ctx.emit(
            "db_insert_per_row_rows_per_s", len(per_row) / (time.perf_counter() - started), "rows/s"
        )
        await conn.execute("TRUNCATE bench_rows")
        started = time.perf_counter()
        await conn.execute(
            "INSERT INTO bench_rows SELECT * FROM unnest($1::bigint[], $2::text[])",
            [r[0] for r in rows],
            [r[1] for r in rows],
        )
        ctx.emit(
            "db_insert_batched_rows_per_s", DB_ROWS / (time.perf_counter() - started), "rows/s"
        )
        await conn.execute("TRUNCATE bench_rows")
        started = time.perf_counter()
        await conn.copy_records_to_table("bench_rows", records=rows)
        ctx.emit("db_insert_copy_rows_per_s", DB_ROWS / (time.perf_counter() - started), "rows/s")
    finally:
        await conn.close()


async def run(ctx: BenchContext) -> None:
    settings = ctx.kafka
    raw, out, batched_out = (ctx.topic(n) for n in ("raw", "raw-out", "raw-out-batched"))
    await create_topics(settings, [raw, out, batched_out])
    ctx.emit("kafka_produce_events_per_s", await produce(settings, raw, BACKLOG), "events/s")
    ctx.emit("kafka_consume_events_per_s", await consume(settings, raw, BACKLOG), "events/s")
    # The pass-through's stack is this process and the broker: it has no database.
    meter = ctx.meter(database=False)
    single = await passthrough(settings, raw, out, BACKLOG, meter)
    ctx.passthrough_events_per_s = single.events_per_s
    ctx.emit("passthrough_events_per_s", single.events_per_s, "events/s", vs_passthrough=True)
    ctx.emit("passthrough_cpu_us_per_event", single.cpu_us_per_event, "us")
    ctx.emit("passthrough_stack_cpu_us_per_event", single.stack_cpu_us_per_event, "us")
    batched = await passthrough(settings, raw, batched_out, BACKLOG, meter, batched=True)
    ctx.passthrough_batched_events_per_s = batched.events_per_s
    ctx.emit("passthrough_batched_events_per_s", batched.events_per_s, "events/s", True)
    ctx.emit("passthrough_batched_cpu_us_per_event", batched.cpu_us_per_event, "us")
    ctx.emit("passthrough_batched_stack_cpu_us_per_event", batched.stack_cpu_us_per_event, "us")
    runs = ((LATENCY_RATE, LATENCY_SECONDS), *((rate, LOW_RATE_SECONDS) for rate in LOW_RATES))
    for rate, seconds in runs:
        # A fresh pair of topics per rate: each run forwards and reads its own records only.
        source, sink = ctx.topic("lat"), ctx.topic("lat-out")
        await create_topics(settings, [source, sink])
        ctx.emit_latency("passthrough", await latency(ctx, source, sink, rate, seconds), rate)
    await database_inserts(ctx)
