"""End to end on the real broker: inbound events in, contacts.enriched out, bad ones to the DLQ."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import pytest
from profiles_support import customer, hours, seed
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from profile_lookup.config import ProfilesSettings
from profile_lookup.service import Enricher, enriched_id
from profile_lookup.wiring import decoders
from switchboard_events import (
    CONTENT_TYPE,
    CONTENT_TYPE_HEADER,
    ENRICHED_DECODER,
    Event,
    IdentificationStatus,
    encode,
)
from switchboard_events.testing import T0, inbound, lifecycle
from switchboard_events.topics import DLQ_ERROR_CLASS, DLQ_ORIGINAL_TOPIC, dlq
from switchboard_runtime import kafka
from switchboard_runtime.runner import BatchRunner
from switchboard_runtime.testing.kafka import publish, read_topic
from switchboard_runtime.testing.runner import running_runner

pytestmark = pytest.mark.integration

Running = Callable[[str], AbstractAsyncContextManager[BatchRunner[Event]]]


@pytest.fixture
async def running(settings: ProfilesSettings) -> Running:
    """Runs profile-lookup's runner as a task in this event loop until the block ends."""
    topics = [settings.inbound_topic, settings.lifecycle_topic, settings.enriched_topic]
    await kafka.create_topics(settings.kafka, [*topics, dlq(topics[0]), dlq(topics[1])])

    def run(group: str) -> AbstractAsyncContextManager[BatchRunner[Event]]:
        in_group = settings.model_copy(update={"consumer_group": group})
        handler = Enricher.from_settings(settings)
        return running_runner("profile-lookup", in_group, decoders(settings), handler)

    return run


async def test_inbound_events_come_out_enriched_and_bad_ones_are_dead_lettered(
    settings: ProfilesSettings, sessions: async_sessionmaker[AsyncSession], running: Running
) -> None:
    await seed(sessions, [customer("cust-1", "+447700900123", "emma@example.co.uk", tier="vip")])
    good = [
        inbound("k1", phone="07700 900123", attributes={"country": "GB"}, at=T0),
        inbound("k2", channel="email", email="Emma <EMMA@example.co.uk>", at=T0 + hours(1)),
        inbound("u1", phone="+44 20 7946 0999", at=T0 + hours(2)),
        inbound("w1", withheld=True, at=T0 + hours(3)),
        inbound("x1", phone="12ab", at=T0 + hours(4)),
    ]
    bad = [
        (b"b1", b'{"id": "broken", '),
        (b"b2", json.dumps({"id": "no-data", "type": "switchboard.contact.received.v1"}).encode()),
    ]
    records = [(e.subject.encode(), encode(e)) for e in good]
    await publish(settings.kafka, settings.inbound_topic, [*records[:2], *bad, *records[2:]])
    await publish(
        settings.kafka,
        settings.lifecycle_topic,
        [(b"k1", encode(lifecycle("k1", "resolved", T0 + hours(0.5)))), (b"k9", b"not json")],
    )

    async with running(settings.consumer_group or "profiles"):
        out = await read_topic(settings.kafka, settings.enriched_topic, len(good))
        letters = await read_topic(settings.kafka, dlq(settings.inbound_topic), 2)
        lifecycle_letters = await read_topic(settings.kafka, dlq(settings.lifecycle_topic), 1)

    assert len(out) == len(good)
    enriched = {e.subject: e for e in (ENRICHED_DECODER.decode(m.value) for m in out)}
    assert enriched["k1"].id == enriched_id(good[0].source, good[0].id)
    statuses = {k: e.data.identification.status for k, e in enriched.items()}
    assert statuses == {
        "k1": IdentificationStatus.KNOWN,
        "k2": IdentificationStatus.KNOWN,
        "u1": IdentificationStatus.UNKNOWN,
        "w1": IdentificationStatus.UNKNOWN,
        "x1": IdentificationStatus.UNKNOWN,
    }
    assert enriched["x1"].data.identification.reasons == ["phone unparseable: not a phone number"]
    by_key = {m.key for m in out}
    assert by_key == {b"cust-1", b"u1", b"w1", b"x1"}
    assert [m.headers[CONTENT_TYPE_HEADER] for m in out] == [CONTENT_TYPE.encode()] * len(good)

    assert sorted(m.key or b"" for m in letters) == [b"b1", b"b2"]
    assert {m.headers[DLQ_ERROR_CLASS] for m in letters} == {b"not_json", b"schema_violation"}
    assert {m.headers[DLQ_ORIGINAL_TOPIC] for m in letters} == {settings.inbound_topic.encode()}
    assert lifecycle_letters[0].key == b"k9"

    async with sessions() as session:
        rows: dict[str, str] = dict(
            (await session.execute(text("SELECT contact_id, status FROM profiles.contacts"))).all()
        )
    assert rows == {"k1": "resolved", "k2": "open", "u1": "open", "w1": "open", "x1": "open"}

    # Another group re-reads everything (a replay): the same records come out again.
    async with running(f"{settings.consumer_group}-replay"):
        replay = await read_topic(settings.kafka, settings.enriched_topic, 2 * len(good))
    assert len(replay) == 2 * len(good)
    first = sorted(m.value for m in out)
    assert sorted(m.value for m in replay) == sorted(first * 2), "byte-identical records"
    assert {m.headers[CONTENT_TYPE_HEADER] for m in replay} == {CONTENT_TYPE.encode()}
