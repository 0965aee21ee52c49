"""Builders for profile-lookup's tests: records, customers, one handled batch (the events
themselves come from `switchboard_events.testing`)."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from profile_lookup.customer_repository import postgres_transactions
from profile_lookup.customers import Customers
from profile_lookup.importer import Importer, ImportFormat, ImportReport
from profile_lookup.service import Enricher
from switchboard_events import (
    ENRICHED_DECODER,
    ContactEnriched,
    ContactLifecycle,
    Event,
    encode,
)
from switchboard_runtime.runner import Output, Record
from switchboard_runtime.testing import run_batch


def records(events: Sequence[Event]) -> list[Record[Event]]:
    """The events as the runner hands them over, at consecutive offsets of their topic."""
    return [
        Record(
            "contacts.lifecycle" if isinstance(e, ContactLifecycle) else "contacts.inbound",
            0,
            n,
            e.subject.encode(),
            0,
            e,
        )
        for n, e in enumerate(events)
    ]


async def handle_raw(
    enricher: Enricher, sessions: async_sessionmaker[AsyncSession], events: Sequence[Event]
) -> list[Output]:
    """One batch through the handler in its own transaction, as the runner does it."""
    return list(await run_batch(enricher, sessions, events))


async def handle(
    enricher: Enricher, sessions: async_sessionmaker[AsyncSession], events: Sequence[Event]
) -> list[ContactEnriched]:
    outputs = await handle_raw(enricher, sessions, events)
    decoded = [ENRICHED_DECODER.decode(o.value) for o in outputs]
    for output, event in zip(outputs, decoded, strict=True):
        assert output.key == event.partition_key().encode()
        assert encode(event) == output.value
    return decoded


def customer(customer_id: str, *identities: str, **fields: Any) -> dict[str, Any]:
    """A customer in the demo's format; identities are spellings, kind guessed by '@'."""
    return {
        "customer_id": customer_id,
        "tier": "standard",
        **fields,
        "identities": [{"kind": "email" if "@" in i else "phone", "value": i} for i in identities],
    }


SEEDER = "test-seed"
"""The actor the audit trail names for customers `seed` imports."""


async def seed(
    sessions: async_sessionmaker[AsyncSession],
    customers: Sequence[dict[str, Any]],
    region: str = "GB",
) -> ImportReport:
    body = "\n".join(json.dumps(c) for c in customers).encode()
    service = Customers(
        postgres_transactions(sessions),
        default_region=region,
        tiers=["standard", "premium", "vip"],
        actor=SEEDER,
    )
    report = await Importer(service).run(io.BytesIO(body), ImportFormat.JSONL)
    assert report.rejected == 0, report.rejections
    return report


def hours(n: float) -> timedelta:
    return timedelta(hours=n)
