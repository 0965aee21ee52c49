"""The use cases on the in-memory fakes (no database): the enricher's batch and the
customers service's write rules, which the admin API and the import share."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest
from profiles_fakes import FakeCustomers, FakeDatabase, FakeEnrichment, fake_transactions
from profiles_support import customer, hours, records

from profile_lookup.customer_repository import CustomerRepository, KeyTaken
from profile_lookup.customers import LOST_RACE, Conflict, Customers, Erased, NotFound
from profile_lookup.domain.customers import CustomerIn
from profile_lookup.importer import Importer, ImportFormat, ImportReport
from profile_lookup.service import Enricher
from switchboard_events import (
    CONTENT_TYPE,
    CONTENT_TYPE_HEADER,
    ENRICHED_DECODER,
    AuditOutcome,
    Event,
    IdentificationStatus,
    MatchedBy,
)
from switchboard_events.testing import T0, inbound
from switchboard_runtime.runner import Output

TIERS = ["standard", "premium", "vip"]


@pytest.fixture
def db() -> FakeDatabase:
    return FakeDatabase()


@pytest.fixture
def customers(db: FakeDatabase) -> Customers:
    return Customers(fake_transactions(db), default_region="GB", tiers=TIERS, actor="test")


async def handle(db: FakeDatabase, events: Sequence[Event]) -> list[Output]:
    """One batch through the enricher in one (fake) transaction, as the runner runs it."""
    enricher = Enricher(enriched_topic="contacts.enriched")
    async with db.transaction():
        return await enricher.handle(records(events), FakeEnrichment(db))


async def load(customers: Customers, rows: Sequence[dict[str, Any]]) -> ImportReport:
    body = "\n".join(json.dumps(r) for r in rows).encode()
    return await Importer(customers).run(io.BytesIO(body), ImportFormat.JSONL)


async def test_a_known_sender_is_enriched_and_every_output_says_its_content_type(
    db: FakeDatabase, customers: Customers
) -> None:
    await load(customers, [customer("cust-1", "+447700900123", tier="vip")])

    [out] = await handle(db, [inbound("c1", phone="07700 900123")])

    event = ENRICHED_DECODER.decode(out.value)
    assert event.data.identification.status == IdentificationStatus.KNOWN
    assert event.data.identification.matched_by == MatchedBy.PHONE
    assert event.data.customer is not None
    assert event.data.customer.tier == "vip"
    assert (out.topic, out.key) == ("contacts.enriched", b"cust-1")
    assert list(out.headers) == [(CONTENT_TYPE_HEADER, CONTENT_TYPE.encode())]


async def test_a_replay_re_emits_the_same_record_and_history_counts_the_earlier_contact(
    db: FakeDatabase, customers: Customers
) -> None:
    await load(customers, [customer("cust-1", "+447700900123")])
    first = await handle(db, [inbound("c1", phone="+447700900123")])
    [second] = await handle(db, [inbound("c2", phone="+447700900123", at=T0 + hours(1))])

    assert await handle(db, [inbound("c1", phone="+447700900123")]) == first
    history = ENRICHED_DECODER.decode(second.value).data.history
    assert (history.contacts_24h, history.repeat_contact) == (1, True)


async def test_after_an_erasure_a_replay_brings_nothing_back(
    db: FakeDatabase, customers: Customers
) -> None:
    await load(customers, [customer("gone", "+447700900333")])
    events = [inbound("e1", phone="+447700900333")]
    await handle(db, events)

    await customers.erase("gone")

    assert await handle(db, events) == []
    with pytest.raises(Erased, match="customer gone was erased at "):
        await customers.get("gone")


async def test_the_api_and_the_import_refuse_another_customers_crm_id_in_the_same_words(
    customers: Customers,
) -> None:
    await load(customers, [customer("owner", external_ref="crm-1")])

    with pytest.raises(Conflict) as refused:
        await customers.create(CustomerIn(customer_id="thief", external_ref="crm-1"))
    report = await load(customers, [customer("thief", external_ref="crm-1")])

    assert str(refused.value) == "external_ref belongs to customer owner"
    assert [r.reason for r in report.rejections] == [str(refused.value)]


async def test_an_import_row_that_loses_its_race_again_is_the_one_recorded_conflict(
    db: FakeDatabase,
) -> None:
    """A writer the check cannot see wins c-1's CRM id every time: the chunk is settled
    row by row, and only c-1's own last try is recorded as a conflict."""

    class Contested(FakeCustomers):
        async def upsert_customers(self, rows: Sequence[Mapping[str, Any]]) -> None:
            if any(r["customer_id"] == "c-1" for r in rows):
                raise KeyTaken("another customer holds this external_ref")
            await super().upsert_customers(rows)

    @asynccontextmanager
    async def transaction() -> AsyncIterator[CustomerRepository]:
        async with db.transaction():
            yield Contested(db)

    contested = Customers(transaction, default_region="GB", tiers=TIERS, actor="test")
    report = await load(contested, [customer("c-0"), customer("c-1"), customer("c-2")])

    assert (report.imported, [(r.line, r.reason) for r in report.rejections]) == (
        2,
        [(2, LOST_RACE)],
    )
    assert [(e.customer_ids, e.outcome) for e in db.tables.audit] == [
        (("c-0",), AuditOutcome.OK),
        (("c-1",), AuditOutcome.CONFLICT),
        (("c-2",), AuditOutcome.OK),
    ]


async def test_a_customer_merged_away_takes_no_writes_from_either(customers: Customers) -> None:
    await load(customers, [customer("keep"), customer("dupe", external_ref="crm-dupe")])
    await customers.merge("keep", "dupe")

    with pytest.raises(Conflict) as refused:
        await customers.update("dupe", CustomerIn(tier="vip"))
    by_id = await load(customers, [customer("dupe", tier="vip")])
    by_ref = await load(customers, [{"external_ref": "crm-dupe", "tier": "vip"}])

    assert str(refused.value) == "customer dupe was merged into keep: use keep instead"
    assert [r.reason for r in by_id.rejections + by_ref.rejections] == [str(refused.value)] * 2


async def test_create_refuses_a_taken_id_update_an_unknown_one(customers: Customers) -> None:
    await load(customers, [customer("c1")])
    with pytest.raises(Conflict, match=r"^customer c1 already exists$"):
        await customers.create(CustomerIn(customer_id="c1"))
    with pytest.raises(NotFound, match=r"^no customer c2$"):
        await customers.update("c2", CustomerIn(tier="vip"))
    created = await customers.create(CustomerIn(external_ref="crm-9", phones=["07700 900999"]))
    assert created.tier == "standard", "the first tier is the default"
    assert [(i.kind, i.value) for i in created.identities] == [("phone", "+447700900999")]
    again = await load(customers, [{"external_ref": "crm-9", "segment": "smb"}])
    assert (again.imported, again.updated) == (0, 1), "the import finds it by its CRM id"
