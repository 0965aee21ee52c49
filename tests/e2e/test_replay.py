"""A full replay through profile-lookup and the router, as service processes.

Both services route a set of contacts, stop, and start again in new consumer groups, so
they read every topic from offset 0: profile-lookup re-emits each enriched event, and
the router reads each contact twice (the original enriched record and that copy). Each
decision must come out exactly once more, with its id; contacts whose event ids
collide across sources and topics must each be routed.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pipeline import Pipeline, topic_names

from switchboard_events import (
    CONTACTS_ENRICHED,
    CONTACTS_INBOUND,
    CONTACTS_LIFECYCLE,
    ROUTING_DECISIONS,
    ContactLifecycle,
    ContactLifecycleData,
    ContactReceived,
    ContactReceivedData,
    Event,
    LifecycleKind,
    Sender,
    encode,
)
from switchboard_runtime.kafka import create_topics
from switchboard_runtime.testing.kafka import committed, publish, read_topic, topic_size
from switchboard_runtime.testing.plugin import Stack

pytestmark = pytest.mark.integration

SERVICES = ("profile-lookup", "router")


@dataclass
class IsolatedPipeline(Pipeline):
    """The pipeline on topics of its own, in consumer groups named by `generation`."""

    suffix: str = ""
    generation: str = "first"

    def env(self, name: str) -> dict[str, str]:
        prefix = self.spec(name).env_prefix
        return super().env(name) | {
            f"{prefix}TOPIC_SUFFIX": self.suffix,
            f"{prefix}CONSUMER_GROUP": self.group(name),
        }

    def group(self, name: str) -> str:
        return f"{name}-{self.generation}{self.suffix}"


@pytest.fixture
async def pipeline(stack: Stack, tmp_path: Path) -> AsyncIterator[IsolatedPipeline]:
    async with stack.new_database("replay") as database_url:
        suffix = f".r{uuid.uuid4().hex[:8]}"
        kafka = stack.kafka_settings()
        pipeline = IsolatedPipeline(kafka, database_url, tmp_path, suffix=suffix)
        await create_topics(kafka, [topic + suffix for topic in topic_names()])
        try:
            yield pipeline
        finally:
            pipeline.stop_all()


def contact(contact_id: str, event_id: str, source: str) -> ContactReceived:
    now = datetime.now(UTC)
    return ContactReceived(
        id=event_id,
        source=source,
        subject=contact_id,
        time=now,
        producedtime=now,
        data=ContactReceivedData(
            contact_id=contact_id,
            channel="chat",
            sender=Sender(email=f"{contact_id}@example.com"),
            contact_type="general",
        ),
    )


def answered(contact_id: str, event_id: str, source: str) -> ContactLifecycle:
    now = datetime.now(UTC)
    return ContactLifecycle(
        id=event_id,
        source=source,
        subject=contact_id,
        time=now,
        producedtime=now,
        data=ContactLifecycleData(contact_id=contact_id, kind=LifecycleKind.FIRST_RESPONSE),
    )


async def send(pipeline: IsolatedPipeline, topic: str, events: list[Event]) -> None:
    records = [(e.subject.encode(), encode(e)) for e in events]
    await publish(pipeline.kafka, topic + pipeline.suffix, records)


async def wait_until_read(pipeline: IsolatedPipeline, name: str, topic: str, count: int) -> None:
    """Until service `name` has committed `count` records of `topic`."""
    deadline = time.monotonic() + 90
    group = pipeline.group(name)
    while time.monotonic() < deadline:
        if sum((await committed(pipeline.kafka, group, topic + pipeline.suffix)).values()) == count:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{name} did not read {count} records of {topic}: {pipeline.log(name)}")


async def test_a_full_replay_emits_each_decision_once_and_colliding_ids_are_all_routed(
    pipeline: IsolatedPipeline,
) -> None:
    # A lifecycle event first, then contacts: two sources use one id, and one contact's
    # id equals the lifecycle event's.
    await send(pipeline, CONTACTS_LIFECYCLE, [answered("chat-0", "evt-0001", "connector/chat")])
    contacts: list[Event] = [
        contact("tel-1", "evt-0001", "connector/telephony"),
        contact("chat-1", "evt-0001", "connector/chat"),
        *(contact(f"c-{n}", f"evt-1{n:03}", "connector/chat") for n in range(20)),
    ]
    for name in SERVICES:
        await asyncio.to_thread(pipeline.start, name)
    await wait_until_read(pipeline, "profile-lookup", CONTACTS_LIFECYCLE, 1)
    await send(pipeline, CONTACTS_INBOUND, contacts)
    first = await read_topic(pipeline.kafka, ROUTING_DECISIONS + pipeline.suffix, len(contacts))
    assert {m.key for m in first} == {e.subject.encode() for e in contacts}, "each one routed"
    await wait_until_read(pipeline, "router", CONTACTS_ENRICHED, len(contacts))
    assert pipeline.stop_all() == dict.fromkeys(SERVICES, 0)

    # The replay: new groups read everything again with the same database.
    pipeline.generation = "replay"
    pipeline.procs.clear()
    for name in SERVICES:
        await asyncio.to_thread(pipeline.start, name)
    await wait_until_read(pipeline, "profile-lookup", CONTACTS_INBOUND, len(contacts))
    await wait_until_read(pipeline, "router", CONTACTS_ENRICHED, 2 * len(contacts))
    decisions = ROUTING_DECISIONS + pipeline.suffix
    assert await topic_size(pipeline.kafka, decisions) == 2 * len(contacts)
    both = await read_topic(pipeline.kafka, decisions, 2 * len(contacts))
    assert Counter(m.value for m in both) == Counter({m.value: 2 for m in first})
