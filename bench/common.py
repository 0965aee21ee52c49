"""Helpers shared by suites that drive real service processes: publish, wait, drain,
measure CPU and memory, time."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer

from switchboard_runtime.kafka import make_consumer, make_producer
from switchboard_runtime.settings import KafkaSettings

PUBLISH_CHUNK = 2000
LATENCY_RATE = 1_000
"""The steady rate of every suite's main latency run (events/s)."""
LOW_RATES = (50, 200)
"""The rates a service sees most of the day: each suite with a latency figure runs these
too, for `LOW_RATE_SECONDS` each (the p99 of one hop and of two at the same rate)."""
LOW_RATE_SECONDS = 10


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


@dataclass(frozen=True)
class Cpu:
    """CPU seconds spent so far by the processes under test (`own_s`), and by them with
    the stack they run on, the broker and PostgreSQL (`stack_s`); two readings' difference
    is what a span cost."""

    own_s: float
    stack_s: float

    def __sub__(self, earlier: Cpu) -> Cpu:
        return Cpu(self.own_s - earlier.own_s, self.stack_s - earlier.stack_s)


class ProcessMeter:
    """CPU time and resident memory of the processes under test (services, or this one),
    and CPU time of the stack around them (`BenchContext.meter` builds one).

    CPU time is steadier than wall time on a shared machine: figures divide it by the
    events processed between two readings.
    """

    def __init__(self, pids: Sequence[int], stack: Sequence[int]) -> None:
        """The process trees of `pids` (none: this process alone, without the stack it
        started), and those of `stack` counted in `Cpu.stack_s` only."""
        self._pids = tuple(pids)
        self._stack = tuple(stack)

    def read(self) -> Cpu:
        tree = _ProcessTable()
        own = sum(map(tree.cpu_s, self._pids)) if self._pids else time.process_time()
        return Cpu(own, own + sum(map(tree.cpu_s, self._stack)))

    def rss_mb(self) -> float:
        """The largest resident set among the processes under test."""
        return max(_rss_mb(str(pid)) for pid in self._pids or ("self",))


class _ProcessTable:
    """Every process's parent and CPU ticks, from one pass over /proc (this kernel has no
    /proc/<pid>/task/<tid>/children to walk a tree by)."""

    def __init__(self) -> None:
        self._ticks: dict[int, int] = {}
        self._children: dict[int, list[int]] = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue  # it ended since the directory was listed
            # Fields 4 (ppid) and 14-17 of proc(5) (utime, stime, cutime, cstime), counted
            # after the command name. cutime/cstime hold the children it has reaped, so a
            # PostgreSQL backend that ended in the span still counts, in its postmaster.
            fields = stat.rpartition(")")[2].split()
            pid = int(entry.name)
            self._ticks[pid] = sum(int(f) for f in fields[11:15])
            self._children.setdefault(int(fields[1]), []).append(pid)
        self._tick_s = 1 / os.sysconf("SC_CLK_TCK")

    def cpu_s(self, root: int) -> float:
        """CPU seconds of `root` and its descendants, live and reaped."""
        if root not in self._ticks:
            raise RuntimeError(f"process {root} is not running: its CPU time cannot be read")
        ticks, pending = 0, [root]
        while pending:
            pid = pending.pop()
            ticks += self._ticks[pid]
            pending.extend(self._children.get(pid, ()))
        return ticks * self._tick_s


def _rss_mb(pid: str) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(kib) / 1024


@dataclass(frozen=True)
class Drain:
    """A backlog drained: its rate, the CPU the measured processes spent per event, and
    the CPU of the whole stack (those processes, the broker, the database) per event."""

    events_per_s: float
    cpu_us_per_event: float
    stack_cpu_us_per_event: float
    rss_mb: float

    @classmethod
    def of(cls, events: int, seconds: float, cpu: Cpu, rss_mb: float) -> Drain:
        """`events` processed in `seconds` of wall time and `cpu` (a difference)."""
        return cls(events / seconds, cpu.own_s / events * 1e6, cpu.stack_s / events * 1e6, rss_mb)


ROUNDS = 3
"""Spans a service's backlog drain is measured in: one drain's CPU per event moves by up
to a fifth between runs of the same code on a two-core machine that the broker and the
database share, and the median span is steadier than any one drain."""


class Spans:
    """A drain measured in `rounds` consecutive spans of about equal size: `observe` each
    time the count of processed events grows; `median` is the figure."""

    def __init__(self, count: int, rounds: int, meter: ProcessMeter) -> None:
        self._count = count
        self._rounds = rounds
        self._meter = meter
        self._marks: list[tuple[int, float, Cpu]] = []
        """(events processed, when, CPU) at the first reading and at each span's end."""

    @property
    def done(self) -> bool:
        return bool(self._marks) and self._marks[-1][0] >= self._count

    def observe(self, processed: int, now: float) -> None:
        """`processed` events so far at `now` (perf_counter); the first reading only marks
        when the stream began (what it counts is left out)."""
        if not self._marks:
            self._marks.append((processed, now, self._meter.read()))
            return
        start = self._marks[0][0]
        span = (self._count - start) / self._rounds
        if processed >= self._count or processed - start >= len(self._marks) * span:
            self._marks.append((processed, now, self._meter.read()))

    def median(self, what: str) -> Drain:
        """The span whose CPU per event is the median; spans are printed as a comment when
        there are several."""
        rss_mb = self._meter.rss_mb()
        spans = [
            Drain.of(events - before, now - then, cpu - cpu_before, rss_mb)
            for (before, then, cpu_before), (events, now, cpu) in itertools.pairwise(self._marks)
        ]
        if not spans:
            raise RuntimeError(f"{what}: the drain ended before a span was measured")
        if len(spans) > 1:
            shown = "; ".join(f"{d.events_per_s:,.0f}/s {d.cpu_us_per_event:.1f} us" for d in spans)
            print(f"# {what}: {len(spans)} spans (events/s, CPU per event): {shown}", flush=True)
        return sorted(spans, key=lambda d: d.cpu_us_per_event)[len(spans) // 2]


async def drain(
    consumer: AIOKafkaConsumer,
    count: int,
    timeout: float,
    what: str,
    meter: ProcessMeter,
    rounds: int = 1,
) -> Drain:
    """Records per second arriving on `consumer`, from the first batch to the `count`-th
    record, and `meter`'s CPU over the same span per record; with `rounds`, the median of
    that many consecutive spans (see `Spans`).

    The first batch is left out of the count: it only marks when the stream began.
    """
    spans = Spans(count, rounds, meter)
    seen = 0
    deadline = time.monotonic() + timeout
    while not spans.done and time.monotonic() < deadline:
        batch = await consumer.getmany(timeout_ms=200, max_records=5000)
        n = sum(len(m) for m in batch.values())
        if n:
            seen += n
            spans.observe(seen, time.perf_counter())
    if not spans.done:
        raise RuntimeError(f"{what}: {seen} of {count} records arrived in {timeout:.0f} s")
    return spans.median(what)


async def steady_latency(
    settings: KafkaSettings,
    topic: str,
    output: AIOKafkaConsumer,
    *,
    count: int,
    rate: float,
    make: Callable[[int], tuple[bytes | None, bytes]],
    delay_ms: Callable[[Any, float], float | None],
    what: str,
    grace_s: float = 60.0,
) -> list[float]:
    """Publish `make(i)` (key, value) for i < count at a steady `rate` per second, and read
    `output` meanwhile, from its end: `delay_ms(message, now)` is each output's delay from
    its publication (None for an output that is not one of these)."""
    delays: list[float] = []
    producer = make_producer(settings, "bench-latency")
    await producer.start()

    async def send() -> None:
        started = time.perf_counter()
        for i in range(count):
            # The steady rate itself: record i is due i / rate seconds in.
            if (wait := started + i / rate - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
            key, value = make(i)
            await producer.send(topic, value, key=key)
        await producer.flush()

    async def read() -> None:
        deadline = time.monotonic() + count / rate + grace_s
        while len(delays) < count and time.monotonic() < deadline:
            batch = await output.getmany(timeout_ms=200, max_records=5000)
            now = time.time()
            for messages in batch.values():
                delays.extend(d for m in messages if (d := delay_ms(m, now)) is not None)

    try:
        await _skip_to_end(output)
        await asyncio.gather(send(), read())
    finally:
        await producer.stop()
    if len(delays) < count:
        raise RuntimeError(f"{what}: {len(delays)} of {count} steady-rate records came out")
    return delays


async def _skip_to_end(consumer: AIOKafkaConsumer) -> None:
    """Start `consumer` at the end of its partitions: reading what earlier runs left there
    while this run's outputs arrive would count the catching up as their latency."""
    while not consumer.assignment():
        await consumer.getmany(timeout_ms=100)
    await consumer.seek_to_end()


def percentile(sorted_values: Sequence[float], share: float) -> float:
    """The value below which `share` of the sorted values lie (nearest rank)."""
    return sorted_values[max(0, int(len(sorted_values) * share) - 1)]
