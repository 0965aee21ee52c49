"""The contract's edge on the real broker and database: what a connector really sends.

Records are published as raw JSON (not through `encode`, which would tidy them up),
all on one partition so that "the valid contacts behind a bad one" is literal.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from profiles_support import customer, hours, seed
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from profile_lookup.config import ProfilesSettings
from profile_lookup.service import Enricher
from profile_lookup.wiring import decoders
from switchboard_events import (
    ENRICHED_DECODER,
    ContactEnriched,
    Event,
    IdentificationStatus,
    encode,
)
from switchboard_events.testing import T0, inbound
from switchboard_events.topics import DLQ_ERROR_CLASS, DLQ_ORIGINAL_OFFSET, DLQ_REASON, dlq
from switchboard_runtime import kafka
from switchboard_runtime.runner import BatchRunner
from switchboard_runtime.testing.kafka import publish, read_topic
from switchboard_runtime.testing.runner import running_runner

pytestmark = pytest.mark.integration

Running = Callable[[ProfilesSettings], AbstractAsyncContextManager[BatchRunner[Event]]]
ONE_PARTITION = b"same-key"
KNOWN_PHONE = "+447700900123"


@pytest.fixture
async def running(settings: ProfilesSettings) -> Running:
    """Runs profile-lookup's runner, configured from the given settings, until the block ends."""
    topics = [settings.inbound_topic, settings.lifecycle_topic, settings.enriched_topic]
    await kafka.create_topics(settings.kafka, [*topics, dlq(topics[0]), dlq(topics[1])])

    def run(configured: ProfilesSettings) -> AbstractAsyncContextManager[BatchRunner[Event]]:
        handler = Enricher.from_settings(configured)
        return running_runner("profile-lookup", configured, decoders(configured), handler)

    return run


def raw_call(contact_id: str, sender: dict[str, Any], **data: Any) -> bytes:
    """A call as a connector would send it: the JSON of a valid one, with `sender` as given."""
    event = json.loads(encode(inbound(contact_id, phone=KNOWN_PHONE, at=T0 + hours(1))))
    event["data"]["sender"] = sender
    event["data"].update(data)
    return json.dumps(event).encode()


def by_contact(messages: list[Any]) -> dict[str, ContactEnriched]:
    events = (ENRICHED_DECODER.decode(m.value) for m in messages)
    return {e.subject: e for e in events if isinstance(e, ContactEnriched)}


async def test_calls_without_a_usable_phone_are_routed_as_unknown_and_nul_is_dead_lettered(
    settings: ProfilesSettings, sessions: async_sessionmaker[AsyncSession], running: Running
) -> None:
    await seed(sessions, [customer("cust-1", KNOWN_PHONE, tier="vip")])
    records = [
        raw_call("empty-phone", {"phone": ""}),
        raw_call("blank-phone", {"phone": "   ", "email": ""}),
        raw_call("no-phone", {}),
        raw_call("nul-type", {"phone": KNOWN_PHONE}, contact_type="billing\u0000x"),
        raw_call("known", {"phone": KNOWN_PHONE}),
    ]
    await publish(settings.kafka, settings.inbound_topic, [(ONE_PARTITION, r) for r in records])

    async with running(settings):
        out = await read_topic(settings.kafka, settings.enriched_topic, 4)
        letters = await read_topic(settings.kafka, dlq(settings.inbound_topic), 1)

    # Every valid record is enriched, so none of them was dead-lettered.
    enriched = by_contact(out)
    statuses = {contact: e.data.identification.status for contact, e in enriched.items()}
    assert statuses == {
        "empty-phone": IdentificationStatus.UNKNOWN,
        "blank-phone": IdentificationStatus.UNKNOWN,
        "no-phone": IdentificationStatus.UNKNOWN,
        "known": IdentificationStatus.KNOWN,
    }
    assert enriched["empty-phone"].data.contact.sender.phone is None
    assert enriched["empty-phone"].data.identification.reasons == [
        "no phone, email or external_ref to match"
    ]

    assert [(m.key, m.headers[DLQ_ORIGINAL_OFFSET]) for m in letters] == [(ONE_PARTITION, b"3")]
    assert letters[0].headers[DLQ_ERROR_CLASS] == b"schema_violation"
    reason = letters[0].headers[DLQ_REASON].decode()
    assert "data.contact_type: contains a NUL character" in reason
    assert KNOWN_PHONE not in reason


def padded_call(contact_id: str, size: int) -> bytes:
    """A valid call of about `size` bytes: a member consumers do not know yet is ignored."""
    event = json.loads(encode(inbound(contact_id, phone=KNOWN_PHONE)))
    event["connectortrace"] = "x" * size
    return json.dumps(event).encode()


async def test_a_200_kib_valid_record_is_processed_under_the_default_limit(
    settings: ProfilesSettings, running: Running
) -> None:
    record = padded_call("large", 200 * 1024)
    assert settings.kafka.max_message_bytes > len(record) > 128 * 1024
    await publish(settings.kafka, settings.inbound_topic, [(ONE_PARTITION, record)])

    async with running(settings):
        out = await read_topic(settings.kafka, settings.enriched_topic, 1)

    assert list(by_contact(out)) == ["large"]


async def test_records_over_kafka_max_message_bytes_are_dead_lettered_as_too_large(
    settings: ProfilesSettings, running: Running
) -> None:
    limit = 150 * 1024
    small = settings.model_copy(
        update={"kafka": settings.kafka.model_copy(update={"max_message_bytes": limit})}
    )
    records = [padded_call("over", limit + 1), padded_call("under", limit - 1024)]
    await publish(settings.kafka, settings.inbound_topic, [(ONE_PARTITION, r) for r in records])

    async with running(small):
        out = await read_topic(settings.kafka, settings.enriched_topic, 1)
        letters = await read_topic(settings.kafka, dlq(settings.inbound_topic), 1)

    assert list(by_contact(out)) == ["under"]
    assert [m.headers[DLQ_ERROR_CLASS] for m in letters] == [b"too_large"]
    assert str(limit).encode() in letters[0].headers[DLQ_REASON]
