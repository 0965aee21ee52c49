"""Bad records in a batch: the crash loop of issue 16.1 (a schema-valid contact whose
contact_type holds a NUL), and a record refused inside the transaction, around which the
runner applies the batch again in halves."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from profiles_support import hours
from sqlalchemy.ext.asyncio import AsyncSession

from profile_lookup.config import ProfilesSettings
from profile_lookup.service import Enricher
from profile_lookup.wiring import decoders
from switchboard_events import ENRICHED_DECODER, Event, encode
from switchboard_events.testing import T0, inbound
from switchboard_events.topics import DLQ_ERROR_CLASS, DLQ_REASON, dlq
from switchboard_runtime import kafka
from switchboard_runtime.runner import Output, Record
from switchboard_runtime.testing import sample_total
from switchboard_runtime.testing.kafka import publish, read_topic
from switchboard_runtime.testing.runner import running_runner

pytestmark = pytest.mark.integration


async def forty_contacts(settings: ProfilesSettings, phones: str) -> list[Event]:
    """Create the service's topics; 40 good contacts, their phones `phones` + 00..39."""
    topics = [settings.inbound_topic, settings.lifecycle_topic, settings.enriched_topic]
    await kafka.create_topics(settings.kafka, [*topics, dlq(topics[0]), dlq(topics[1])])
    return [inbound(f"c{i}", phone=f"{phones}{i:02d}", at=T0 + hours(i / 10)) for i in range(40)]


async def test_a_nul_in_a_text_field_is_dead_lettered_and_the_contacts_behind_it_enriched(
    settings: ProfilesSettings,
) -> None:
    good = await forty_contacts(settings, phones="+4477009001")
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


class RefusingOne:
    """The enricher, failing every batch that holds contact `bad` once it has handled it, as
    a record the database refused would (a `ValueError` is a record's own failure)."""

    def __init__(self, enricher: Enricher) -> None:
        self.enricher = enricher

    async def __call__(self, batch: Sequence[Record[Event]], session: AsyncSession) -> list[Output]:
        outputs = await self.enricher(batch, session)
        if any(r.event.subject == "bad" for r in batch):
            raise ValueError("contact bad refused")
        return outputs


def lookups_and_writes() -> tuple[float, float]:
    """Senders looked up (whatever the result) and contacts written to the history so far."""
    return (
        sample_total("switchboard_profiles_lookups_total"),
        sample_total("switchboard_profiles_history_writes_total", kind="contact"),
    )


async def test_contacts_of_a_batch_halved_around_a_refused_record_are_counted_once(
    settings: ProfilesSettings,
) -> None:
    good = await forty_contacts(settings, phones="+4477009002")
    bad = inbound("bad", phone="+447700900999", at=T0)
    events = [*good[:25], bad, *good[25:]]
    await publish(settings.kafka, settings.inbound_topic, [(b"k", encode(e)) for e in events])

    before = lookups_and_writes()
    handler = RefusingOne(Enricher.from_settings(settings))
    async with running_runner("profile-lookup", settings, decoders(settings), handler):
        (letter,) = await read_topic(settings.kafka, dlq(settings.inbound_topic), 1)
        out = await read_topic(settings.kafka, settings.enriched_topic, len(good), timeout=60)
    assert letter.headers[DLQ_ERROR_CLASS] == b"unprocessable"
    subjects = sorted(ENRICHED_DECODER.decode(m.value).subject for m in out)
    assert subjects == sorted(e.subject for e in good)
    after = lookups_and_writes()
    # Attempts rolled back looked the good contacts up too: only the committed ones count.
    assert (after[0] - before[0], after[1] - before[1]) == (len(good), len(good))
