"""Fixtures of sla-monitor's tests: a rig on the real broker and database.

They live here rather than in conftest.py, which only re-exports them: every test
directory has a conftest.py, and mypy cannot check two modules of the same name.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from sla_monitor.config import SlaSettings
from sla_monitor.consumer import decoders, watermark_topics
from sla_monitor.domain.compiled import SlaPolicy, load_policy
from sla_monitor.policy_store import PolicyHolder
from sla_monitor.scheduler import Scheduler, wall_clock
from sla_monitor.service import SlaHandler, Watermarks
from switchboard_events import SLA_ALERTS_DECODER, Event, SlaAlert, dlq, encode
from switchboard_runtime import db, kafka
from switchboard_runtime.runner import BatchRunner
from switchboard_runtime.settings import KafkaSettings
from switchboard_runtime.testing.kafka import publish, read_topic


def short_policy_yaml(today: date | None = None) -> str:
    """Short calendar-time targets, plus a business-time queue closed around `today`."""
    day = today or datetime.now(UTC).date()
    closed = ", ".join(str(day + timedelta(days=d)) for d in (-1, 0, 1))
    week = "\n".join(
        f"      {d}: ['00:00-24:00']" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    )
    return f"""
name: test-policy
calendars:
  - id: always
    always_open: true
  - id: closed-now
    timezone: UTC
    weekly:
{week}
    holidays: [{closed}]
queues:
  - {{id: general, kind: in_house, calendar: always}}
  - {{id: closed, kind: in_house, calendar: closed-now}}
  - {{id: vendor, kind: outsourced, vendor: acme-bpo, calendar: always}}
default_calendars: {{in_house: always, outsourced: always}}
rules:
  - id: call
    match: {{channel: call}}
    first_response: {{target: 2s, clock: calendar, warnings: [{{share: 50%}}], escalations: [1s]}}
    next_response: {{target: 2s, clock: calendar, warnings: [{{before: 1s}}]}}
  - id: email
    match: {{channel: email}}
    first_response: {{target: 2s, clock: business, warnings: [{{share: 50%}}]}}
  - id: p1-resolution
    match: {{priority: P1}}
    resolution: {{target: 4s, clock: calendar, warnings: [{{share: 50%}}]}}
default:
  first_response: {{target: 1h}}
  resolution: {{target: 1d}}
"""


@dataclass
class Rig:
    """sla-monitor on its own topics and database; runs in this process or as processes."""

    settings: SlaSettings
    policies: PolicyHolder
    engine: AsyncEngine
    logs: Path
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

    async def alerts(self, expected: int = 10_000, timeout: float = 10.0) -> list[SlaAlert]:
        """Alerts on the topic, in partition order, once `expected` arrived or `timeout` passed."""
        messages = await read_topic(self.kafka, self.settings.alerts_topic, expected, timeout)
        ordered = sorted(messages, key=lambda m: (m.partition, m.offset))
        found = [SLA_ALERTS_DECODER.decode(m.value) for m in ordered]
        return [a for a in found if isinstance(a, SlaAlert)]

    def scheduler(
        self,
        producer: AIOKafkaProducer,
        batch: int | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> Scheduler:
        s = self.settings
        return Scheduler(
            sessions=self.sessions,
            producer=producer,
            topic=s.alerts_topic,
            watermark_topics=watermark_topics(s),
            now=now or wall_clock,
            poll_s=s.scheduler_poll_s,
            batch=batch or s.scheduler_batch,
            republish_after_s=s.republish_after_s,
        )

    @contextlib.asynccontextmanager
    async def running(
        self,
        schedulers: int = 1,
        batch: int | None = None,
        now: Callable[[], datetime] | None = None,
        topics: Sequence[str] | None = None,
    ) -> AsyncIterator[list[Scheduler]]:
        """The batch runner and `schedulers` schedulers, as tasks in this event loop.

        `topics` narrows what the runner reads (default: both topics), `now` is the
        schedulers' clock (default: the wall clock).
        """
        s = self.settings
        read = {t: decode for t, decode in decoders(s).items() if topics is None or t in topics}
        producer = kafka.make_producer(s.kafka, "sla-test")
        consumer = kafka.make_consumer(s.kafka, s.consumer_group or "sla", "sla-test")
        runner: BatchRunner[Event] = BatchRunner(
            name="sla-monitor",
            consumer=consumer,
            producer=producer,
            sessions=self.sessions,
            decoders=read,
            handler=SlaHandler(self.policies),
            max_records=s.kafka.max_batch_records,
            on_progress=Watermarks(self.sessions),
        )
        await producer.start()
        await consumer.start()
        running = [self.scheduler(producer, batch, now) for _ in range(schedulers)]
        tasks = [
            asyncio.create_task(runner.run()),
            *(asyncio.create_task(r.run()) for r in running),
        ]
        try:
            async with asyncio.timeout(30):  # events sent from here on are consumed at once
                while not runner.state.joined:  # noqa: ASYNC110 (the runner exposes no event)
                    await asyncio.sleep(0.05)
            yield running
        finally:
            runner.stop()
            for r in running:
                r.stop()
            await asyncio.wait_for(asyncio.gather(*tasks), 30)
            await consumer.stop()
            await producer.stop()

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

    async def fired(self, count: int, timeout: float = 10.0, where: str = "true") -> int:
        """Wait until `count` alerts matching `where` are recorded and published; how many are."""
        sql = f"SELECT count(*) FROM sla.alerts WHERE published_at IS NOT NULL AND ({where})"
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            found = await self.count(sql)
            if found >= count or asyncio.get_running_loop().time() > deadline:
                return found
            await asyncio.sleep(0.05)

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
    policy_text = short_policy_yaml()
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
    rig = Rig(settings, PolicyHolder(policy_file, load_policy(policy_text)), engine, tmp_path)
    try:
        yield rig
    finally:
        for proc in rig.processes:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        await engine.dispose()
