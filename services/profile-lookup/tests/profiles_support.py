"""Builders for profile-lookup's tests: events, records, customers, one handled batch."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
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
    ContactReceived,
    Event,
    encode,
)
from switchboard_runtime.runner import Output, Record

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def inbound(
    contact_id: str,
    *,
    at: datetime = T0,
    channel: str = "call",
    phone: str | None = None,
    email: str | None = None,
    external_ref: str | None = None,
    display_name: str | None = None,
    withheld: bool = False,
    contact_type: str = "billing",
    attributes: dict[str, Any] | None = None,
    event_id: str | None = None,
    dialled: str | None = None,
) -> ContactReceived:
    sender: dict[str, Any] = {
        k: v
        for k, v in {
            "phone": phone,
            "email": email,
            "external_ref": external_ref,
            "display_name": display_name,
        }.items()
        if v is not None
    }
    if withheld:
        sender["withheld"] = True
    data: dict[str, Any] = {
        "contact_id": contact_id,
        "channel": channel,
        "sender": sender,
        "contact_type": contact_type,
        "attributes": attributes or {},
    }
    if dialled:
        data["entry_point"] = {"dialled_number": dialled}
    return ContactReceived.model_validate(
        {
            "id": event_id or f"in-{contact_id}",
            "source": "connector/test",
            "subject": contact_id,
            "time": at,
            "producedtime": at,
            "data": data,
        }
    )


def lifecycle(
    contact_id: str,
    kind: str,
    at: datetime,
    *,
    csat: int | None = None,
    event_id: str | None = None,
) -> ContactLifecycle:
    data: dict[str, Any] = {"contact_id": contact_id, "kind": kind}
    if csat is not None:
        data["csat_score"] = csat
    return ContactLifecycle.model_validate(
        {
            "id": event_id or f"lc-{contact_id}-{kind}-{at.isoformat()}",
            "source": "desktop/test",
            "subject": contact_id,
            "time": at,
            "producedtime": at,
            "data": data,
        }
    )


def records(events: Sequence[Event]) -> list[Record[Event]]:
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
    async with sessions() as session, session.begin():
        return list(await enricher(records(events), session))


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


async def seed(
    sessions: async_sessionmaker[AsyncSession],
    customers: Sequence[dict[str, Any]],
    region: str = "GB",
) -> ImportReport:
    body = "\n".join(json.dumps(c) for c in customers).encode()
    service = Customers(
        postgres_transactions(sessions), default_region=region, tiers=["standard", "premium", "vip"]
    )
    report = await Importer(service).run(io.BytesIO(body), ImportFormat.JSONL)
    assert report.rejected == 0, report.rejections
    return report


def hours(n: float) -> timedelta:
    return timedelta(hours=n)
