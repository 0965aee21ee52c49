"""The crash loop of issue 16.1: a schema-valid contact whose contact_type holds a NUL."""

from __future__ import annotations

import pytest
from profiles_support import hours

from profile_lookup.config import ProfilesSettings
from profile_lookup.service import Enricher
from profile_lookup.wiring import decoders
from switchboard_events import ENRICHED_DECODER, encode
from switchboard_events.testing import T0, inbound
from switchboard_events.topics import DLQ_ERROR_CLASS, DLQ_REASON, dlq
from switchboard_runtime import kafka
from switchboard_runtime.testing.kafka import publish, read_topic
from switchboard_runtime.testing.runner import running_runner

pytestmark = pytest.mark.integration


async def test_a_nul_in_a_text_field_is_dead_lettered_and_the_contacts_behind_it_enriched(
    settings: ProfilesSettings,
) -> None:
    topics = [settings.inbound_topic, settings.lifecycle_topic, settings.enriched_topic]
    await kafka.create_topics(settings.kafka, [*topics, dlq(topics[0]), dlq(topics[1])])
    good = [inbound(f"c{i}", phone=f"+4477009001{i:02d}", at=T0 + hours(i / 10)) for i in range(40)]
    records = [(e.subject.encode(), encode(e)) for e in good]
    # Valid JSON and valid against the schema: PostgreSQL cannot store the NUL.
    poison = encode(inbound("nul", phone="+447700900999", contact_type="poison", at=T0))
    poison = poison.replace(b'"poison"', b'"billing\\u0000x"')
    assert b"\\u0000" in poison
    await publish(settings.kafka, settings.inbound_topic, [*records[:20], (b"nul", poison)])
    await publish(settings.kafka, settings.inbound_topic, records[20:])

    handler = Enricher.from_settings(settings)
    async with running_runner("profile-lookup", settings, decoders(settings), handler):
        letters = await read_topic(settings.kafka, dlq(settings.inbound_topic), 1)
        out = await read_topic(settings.kafka, settings.enriched_topic, len(good), timeout=60)
    subjects = sorted(ENRICHED_DECODER.decode(m.value).subject for m in out)
    assert subjects == sorted(e.subject for e in good), "the contacts behind the bad one flow"
    (letter,) = letters
    assert letter.value == poison
    # Refused at the edge (schema_violation) or, failing that, by the database (unprocessable).
    assert letter.headers[DLQ_ERROR_CLASS] in (b"schema_violation", b"unprocessable")
    assert b"+447700900999" not in letter.headers[DLQ_REASON]
