"""Fixtures of sla-monitor's tests: a rig on the real broker and database.

The rig's schedulers run on a `ManualClock` the test moves (`advance_to`); the runner
and the broker keep real time, so every record is read (watermarks) far past the
clock's instants (2025) and only the test decides when a timer falls due.

They live here rather than in conftest.py, which only re-exports them: every test
directory has a conftest.py, and mypy cannot check two modules of the same name.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from sla_support import short_policy_yaml
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from sla_monitor.config import SlaSettings
from sla_monitor.domain.compiled import SlaPolicy
from sla_monitor.scheduler import Scheduler
from sla_monitor.service import SlaHandler, Watermarks
from sla_monitor.wiring import decoders, policies, watermark_topics
from switchboard_events import SLA_ALERTS_DECODER, Event, SlaAlert, dlq, encode
from switchboard_runtime import db, kafka
from switchboard_runtime.policies import PolicyHolder
from switchboard_runtime.runner import BatchRunner
from switchboard_runtime.settings import KafkaSettings
from switchboard_runtime.testing import ManualClock, eventually
from switchboard_runtime.testing.kafka import publish, read_to_end

POLL_S = 0.05
"""The in-process schedulers' poll interval, on the clock: half the smallest step tests take."""


@dataclass
class Rig:
    """sla-monitor on its own topics and database; runs in this process or as processes."""

    settings: SlaSettings
    policies: PolicyHolder[SlaPolicy]
    engine: AsyncEngine
    logs: Path
    clock: ManualClock
    schedulers: list[Scheduler] = field(default_factory=list)
    reading: list[str] = field(default_factory=list)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def policy(self) -> SlaPolicy:
        return self.policies.current

    @property
    def policy_file(self) -> Path:
        return self.policies.path

    @property
    def kafka(self) -> KafkaSettings:
        return self.settings.kafka

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return db.make_sessionmaker(self.engine)

    async def send(self, *events: Event) -> None:
        """Publish decisions and lifecycle steps to their topics, keyed by contact id."""
        by_topic: dict[str, list[tuple[bytes, bytes]]] = {}
        for event in events:
            topic = (
                self.settings.decisions_topic
                if event.type.startswith("switchboard.routing")
                else self.settings.lifecycle_topic
            )
            by_topic.setdefault(topic, []).append((event.subject.encode(), encode(event)))
        for topic, records in by_topic.items():
            await publish(self.kafka, topic, records)

    async def alerts(self) -> list[SlaAlert]:
        """Every alert on the topic now, in partition order."""
        values = [m.value for m in await read_to_end(self.kafka, self.settings.alerts_topic)]
        found = [SLA_ALERTS_DECODER.decode(v) for v in values]
        return [a for a in found if isinstance(a, SlaAlert)]

    def scheduler(self, producer: AIOKafkaProducer, batch: int | None = None) -> Scheduler:
        """A scheduler on the rig's clock (`producer`: the real one, or a stand-in)."""
        s = self.settings
        return Scheduler(
            sessions=self.sessions,
            producer=producer,
            topic=s.alerts_topic,
            watermark_topics=watermark_topics(s),
            clock=self.clock,
            poll_s=POLL_S,
            batch=batch or s.scheduler_batch,
            republish_after_s=s.republish_after_s,
        )

    @contextlib.asynccontextmanager
    async def running(
        self,
        schedulers: int = 1,
        batch: int | None = None,
        topics: Sequence[str] | None = None,
    ) -> AsyncIterator[list[Scheduler]]:
        """The batch runner and `schedulers` schedulers, as tasks in this event loop.

        `topics` narrows what the runner reads (default: both topics).
        """
        s = self.settings
        read = {t: decode for t, decode in decoders(s).items() if topics is None or t in topics}
        self.reading = list(read)
        producer = kafka.make_producer(s.kafka, "sla-test")
        consumer = kafka.make_consumer(s.kafka, s.consumer_group or "sla", "sla-test")
        runner: BatchRunner[Event] = BatchRunner.from_settings(
            "sla-monitor",
            s,
            consumer=consumer,
            producer=producer,
            sessions=self.sessions,
            decoders=read,
            handler=SlaHandler(self.policies),
            on_progress=Watermarks(self.sessions),
        )
        await producer.start()
        await consumer.start()
        self.schedulers = [self.scheduler(producer, batch) for _ in range(schedulers)]
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(runner.run()),
            *(asyncio.create_task(r.run(stop)) for r in self.schedulers),
        ]
        try:
            # Events sent from here on are consumed at once.
            await eventually(lambda: runner.state.joined, what="the runner to join", timeout=30)
            await self.idle()
            yield self.schedulers
        finally:
            runner.stop()
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), 30)
            await consumer.stop()
            await producer.stop()

    async def idle(self) -> None:
        """Until every running scheduler has finished its round and sleeps on the clock."""
        await self.clock.until_sleeping(len(self.schedulers))

    async def watermarked(self) -> None:
        """Until the runner has reported every partition it reads: the watermarks (real
        time) are then past every timer (clock time), so the gate holds none back."""
        if self.reading:
            marks = len(self.reading) * self.kafka.partitions
            topics = ", ".join(f"'{t}'" for t in self.reading)
            await self.rows(f"SELECT count(*) FROM sla.watermarks WHERE topic IN ({topics})", marks)

    async def advance_to(self, at: datetime) -> None:
        """Move the schedulers' clock to `at` and wait until each has done its round there.

        First until the runner has reported every partition it reads (`watermarked`).
        """
        await self.watermarked()
        await self.idle()
        step = (at - self.clock.now()).total_seconds()
        # Each sleeps at most its poll interval: a shorter step might wake none of them.
        assert step >= 2 * POLL_S or not self.schedulers, f"a step of {step} s"
        self.clock.set(at)
        if self.schedulers:
            mark = self.clock.monotonic()
            await eventually(
                lambda: all(r.last_round == mark for r in self.schedulers),
                what=f"a round of every scheduler at {at.isoformat()}",
            )
        await self.idle()

    def env(self, **overrides: str) -> dict[str, str]:
        s = self.settings
        return (
            dict(os.environ)
            | s.kafka.as_env("SLA_")
            | {
                "SLA_DATABASE_URL": s.database_url.get_secret_value(),
                "SLA_TOPIC_SUFFIX": s.topic_suffix,
                "SLA_CONSUMER_GROUP": s.consumer_group or "sla",
                "SLA_HTTP_PORT": "0",
                "SLA_POLICY_PATH": str(self.policy_file),
                "SLA_REPUBLISH_AFTER_S": str(s.republish_after_s),
                "SLA_SCHEDULER_POLL_S": str(s.scheduler_poll_s),
            }
            | overrides
        )

    def start_process(self, **overrides: str) -> subprocess.Popen[bytes]:
        """`python -m sla_monitor` as a separate process (killed at the end of the test)."""
        with open(self.logs / f"sla-{len(self.processes)}.log", "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "sla_monitor"],
                env=self.env(**overrides),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(proc)
        return proc

    async def fired(self, count: int, where: str = "true") -> int:
        """Once at least `count` alerts matching `where` are recorded and published, how many."""
        sql = f"SELECT count(*) FROM sla.alerts WHERE published_at IS NOT NULL AND ({where})"

        async def enough() -> int | None:
            found = await self.count(sql)
            return found if found >= count else None

        return await eventually(enough, what=f"{count} alert(s) published where {where}")

    async def published(self, where: str = "true") -> int:
        """How many alerts matching `where` are recorded and published now."""
        return await self.count(
            f"SELECT count(*) FROM sla.alerts WHERE published_at IS NOT NULL AND ({where})"
        )

    async def rows(self, sql: str, expected: int) -> int:
        """Once the `SELECT count(*) ...` given counts `expected` or more, what it counts."""

        async def enough() -> int | None:
            found = await self.count(sql)
            return found if found >= expected else None

        return await eventually(enough, what=f"{expected} from {sql!r}")

    async def count(self, sql: str) -> int:
        """The integer a `SELECT count(*) ...` returns."""
        found = await self.scalar(sql)
        assert isinstance(found, int), f"{sql!r} returned {found!r}"
        return found

    async def scalar(self, sql: str) -> object:
        async with self.engine.connect() as conn:
            return await conn.scalar(text(sql))


@pytest.fixture
async def rig(
    database_url: str, kafka_settings: KafkaSettings, topic_suffix: str, tmp_path: Path
) -> AsyncIterator[Rig]:
    clock = ManualClock()
    policy_text = short_policy_yaml(clock.now().date())
    policy_file = tmp_path / "sla.yaml"
    policy_file.write_text(policy_text)
    settings = SlaSettings(
        database_url=database_url,
        kafka=kafka_settings.model_copy(update={"max_batch_records": 500}),
        topic_suffix=topic_suffix,
        consumer_group=f"sla-monitor{topic_suffix}",
        policy_path=policy_file,
        scheduler_poll_s=0.1,
        republish_after_s=1.0,
    )
    topics = [settings.decisions_topic, settings.lifecycle_topic, settings.alerts_topic]
    await kafka.create_topics(kafka_settings, [*topics, *(dlq(t) for t in topics[:2])])
    engine = db.make_engine(database_url)
    holder = policies(settings, db.make_sessionmaker(engine), clock)
    rig = Rig(settings, holder, engine, tmp_path, clock)
    try:
        yield rig
    finally:
        for proc in rig.processes:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        await engine.dispose()


@pytest.fixture(params=["fake", "postgres"])
def database(request: pytest.FixtureRequest) -> str | None:
    """For the contract suites: None for the fake; the URL of a fresh, migrated database for
    PostgreSQL."""
    # Asked for here, outside the event loop: the plugin starts the database synchronously.
    url: str | None = None if request.param == "fake" else request.getfixturevalue("database_url")
    return url


@pytest.fixture
async def store_session(database: str | None) -> AsyncIterator[AsyncSession | None]:
    """None for the fake; on PostgreSQL a session in a transaction, the real store's."""
    if database is None:
        yield None
        return
    engine = db.make_engine(database)
    try:
        async with db.make_sessionmaker(engine)() as session, session.begin():
            yield session
    finally:
        await engine.dispose()
