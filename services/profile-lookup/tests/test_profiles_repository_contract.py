"""One contract for both repository ports, run on the in-memory fakes and on PostgreSQL.

What the fakes promise is what the service tests rely on; this suite holds them to what
PostgreSQL does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from profiles_fakes import FakeDatabase, FakeEnrichment, fake_transactions
from profiles_support import hours, records
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from profile_lookup.customer_repository import KeyTaken, Transactions, postgres_transactions
from profile_lookup.domain.history import HistoryRules, LifecycleChange
from profile_lookup.enrichment_repository import (
    EnrichmentRepository,
    NewContact,
    PostgresEnrichment,
)
from switchboard_events import AuditAction, AuditOutcome
from switchboard_events.testing import T0, inbound
from switchboard_runtime.audit import AuditEntry
from switchboard_runtime.db import Claim, Delivery

Enrichment = Callable[[], AbstractAsyncContextManager[EnrichmentRepository]]


@dataclass
class Backend:
    customers: Transactions
    enrichment: Enrichment
    audit_trail: Callable[[], Awaitable[list[AuditEntry]]]
    """Every audit record stored, oldest first (read past the port: it only appends)."""


def _fake() -> Backend:
    db = FakeDatabase()

    @asynccontextmanager
    async def enrichment() -> AsyncIterator[EnrichmentRepository]:
        async with db.transaction():
            yield FakeEnrichment(db)

    async def audit_trail() -> list[AuditEntry]:
        return list(db.tables.audit)

    return Backend(fake_transactions(db), enrichment, audit_trail)


def _postgres(sessions: async_sessionmaker[AsyncSession]) -> Backend:
    @asynccontextmanager
    async def enrichment() -> AsyncIterator[EnrichmentRepository]:
        async with sessions() as session, session.begin():
            yield PostgresEnrichment(session)

    async def audit_trail() -> list[AuditEntry]:
        async with sessions() as session:
            rows = await session.execute(
                text(
                    "SELECT actor, action, customer_ids, outcome, at FROM profiles.audit_log"
                    " ORDER BY audit_id"
                )
            )
        return [
            AuditEntry(
                r.actor,
                AuditAction(r.action),
                tuple(r.customer_ids),
                AuditOutcome(r.outcome),
                r.at,
            )
            for r in rows
        ]

    return Backend(postgres_transactions(sessions), enrichment, audit_trail)


@pytest.fixture(params=["fake", pytest.param("postgres", marks=pytest.mark.integration)])
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "fake":
        return _fake()
    sessions: async_sessionmaker[AsyncSession] = request.getfixturevalue("sessions")
    return _postgres(sessions)


def row(customer_id: str, **fields: Any) -> dict[str, Any]:
    return {"customer_id": customer_id, "tier": "standard"} | fields


async def seed(backend: Backend, *rows: dict[str, Any], **identities: list[str]) -> None:
    """Customers, and identities per customer id as `kind:value` strings."""
    async with backend.customers() as repo:
        await repo.upsert_customers(rows)
        await repo.replace_identities(
            {
                cid: [(kind, value) for kind, _, value in (i.partition(":") for i in ids)]
                for cid, ids in identities.items()
            }
        )


def contact(contact_id: str, customer_id: str | None, **values: Any) -> NewContact:
    fields: dict[str, Any] = {
        "contact_id": contact_id,
        "inbound_event_id": f"in-{contact_id}",
        "inbound_source": "connector/test",
        "customer_id": customer_id,
        "channel": "call",
        "contact_type": "billing",
        "occurred_at": T0,
        "identification": "known" if customer_id else "unknown",
        "enriched_key": contact_id.encode(),
        "enriched": b"{}",
    }
    return NewContact(**(fields | values))


# --- customers ---------------------------------------------------------------------------


async def test_customers_are_found_by_id_and_crm_id_and_identities_in_order(
    backend: Backend,
) -> None:
    await seed(
        backend,
        row("a", external_ref="crm-a", display_name="A", lifetime_value=1.5),
        row("b"),
        a=["phone:+447700900123", "email:a@example.com"],
        b=["phone:+447700900123"],
    )
    async with backend.customers() as repo:
        found = await repo.get_customers(["b"], ["crm-a"])
        assert sorted(found) == ["a", "b"]
        assert (found["a"]["display_name"], found["a"]["lifetime_value"]) == ("A", 1.5)
        assert found["a"]["merged_into"] is None
        assert await repo.identities_of(["a"]) == {
            "a": [("email", "a@example.com"), ("phone", "+447700900123")]
        }
        assert await repo.customers_with_identity("phone", "+447700900123") == ["a", "b"]
        assert list(await repo.lock_customers(["a", "nobody"])) == ["a"]


async def test_an_upsert_replaces_every_column_and_a_taken_crm_id_rolls_back(
    backend: Backend,
) -> None:
    await seed(backend, row("a", external_ref="crm-a", segment="smb"), row("b"))
    async with backend.customers() as repo:
        await repo.upsert_customers([row("a", tier="vip")])
        assert (await repo.get_customers(["a"]))["a"]["segment"] is None

    async def steal_crm_id() -> None:
        async with backend.customers() as repo:
            await repo.add_identities({"b": [("email", "b@example.com")]})
            await repo.upsert_customers([row("b", external_ref="crm-b")])
            await repo.upsert_customers([row("c", external_ref="crm-b")])

    with pytest.raises(KeyTaken):
        await steal_crm_id()
    async with backend.customers() as repo:
        assert (await repo.get_customers(["b"]))["b"]["external_ref"] is None
        assert await repo.identities_of(["b"]) == {}, "the whole transaction rolled back"


async def test_identities_are_added_once_removed_and_replaced(backend: Backend) -> None:
    await seed(backend, row("a"), a=["email:a@example.com"])
    async with backend.customers() as repo:
        added = await repo.add_identities(
            {"a": [("email", "a@example.com"), ("phone", "+447700900123")]}
        )
        assert added == 1
        assert await repo.remove_identity("a", "email", "a@example.com") is True
        assert await repo.remove_identity("a", "email", "a@example.com") is False
        await repo.replace_identities({"a": [("email", "new@example.com")]})
        assert await repo.identities_of(["a"]) == {"a": [("email", "new@example.com")]}


async def test_a_merge_moves_identities_and_history_and_leaves_a_tombstone(
    backend: Backend,
) -> None:
    await seed(
        backend,
        row("keep", tier="vip"),
        row("dupe", external_ref="crm-dupe", language="en", tier="standard", contract_id="gold"),
        row("older"),
        keep=["email:same@example.com"],
        dupe=["email:same@example.com", "phone:+447700900222"],
    )
    async with backend.enrichment() as enrichment:
        await enrichment.record_contacts([contact("m1", "dupe")])
    async with backend.customers() as repo:
        await repo.merge("older", "dupe")
        merge = await repo.merge("dupe", "keep")
        assert (merge["identities_moved"], merge["contacts_moved"]) == (1, 1)
        assert (merge["source_customer_id"], merge["target_customer_id"]) == ("dupe", "keep")
        rows = await repo.get_customers(["keep", "dupe", "older"])
        assert (rows["keep"]["language"], rows["keep"]["tier"]) == ("en", "vip")
        assert rows["keep"]["contract_id"] == "gold", "an empty field is filled from the source"
        assert [rows[c]["merged_into"] for c in ("dupe", "older")] == ["keep", "keep"]
        assert await repo.customers_with_identity("phone", "+447700900222") == ["keep"]
        assert [c["contact_id"] for c in await repo.recent_contacts("keep", 10)] == ["m1"]
        removed = await repo.remove_customer("keep", erase=False)
        assert (removed["customer_ids"], removed["customers_removed"]) == (
            ["dupe", "keep", "older"],
            3,
        ), "the tombstones merged into it go with it"


async def test_erasure_unlinks_and_wipes_contacts_and_is_recorded(backend: Backend) -> None:
    await seed(backend, row("gone"), row("kept"), gone=["email:g@example.com"])
    async with backend.enrichment() as enrichment:
        await enrichment.record_contacts([contact("e1", "gone"), contact("k1", "kept")])
    async with backend.customers() as repo:
        assert await repo.erasure_of("gone") is None
        report = await repo.remove_customer("gone", erase=True)
        assert report["identities_deleted"] == report["contacts_unlinked"] == 1
        assert report["customer_ids"] == ["gone"]
        assert await repo.erasure_of("gone") == {
            "erasure_id": report["erasure_id"],
            "erased_at": report["erased_at"],
        }
        assert await repo.get_customers(["gone"]) == {}
        deleted = await repo.remove_customer("kept", erase=False)
        assert set(deleted) == {
            "customer_id",
            "customer_ids",
            "customers_removed",
            "identities_deleted",
            "contacts_unlinked",
        }
    async with backend.enrichment() as enrichment:
        stored = {s.contact_id: s for s in await enrichment.stored_contacts([], ["e1", "k1"])}
    assert stored["e1"].enriched is None
    assert stored["k1"].enriched == b"{}", "a deletion keeps the stored output"


async def test_recent_contacts_are_newest_first_and_limited_and_resume_after_a_contact(
    backend: Backend,
) -> None:
    await seed(backend, row("a"))
    async with backend.enrichment() as enrichment:
        await enrichment.record_contacts(
            [contact(f"c{i}", "a", occurred_at=T0 + hours(i)) for i in range(3)]
            + [contact("c1b", "a", occurred_at=T0 + hours(1))]
        )
    async with backend.customers() as repo:
        recent = await repo.recent_contacts("a", 2)
        rest = await repo.recent_contacts("a", 2, after=(T0 + hours(1), "c1b"))
    assert [c["contact_id"] for c in recent] == ["c2", "c1b"], "a tie: the higher id first"
    assert [c["contact_id"] for c in rest] == ["c1", "c0"]
    assert (recent[0]["status"], recent[0]["closed_at"], recent[0]["csat"]) == ("open", None, None)


async def test_audit_records_commit_and_roll_back_with_their_transaction(
    backend: Backend,
) -> None:
    kept = AuditEntry("ops", AuditAction.CUSTOMER_READ, ("a", "b"), AuditOutcome.OK, T0)
    undone = AuditEntry("ops", AuditAction.CUSTOMER_ERASE, ("a",), AuditOutcome.OK, T0)
    async with backend.customers() as repo:
        await repo.record_audit([kept])

    async def failed_action() -> None:
        async with backend.customers() as repo:
            await repo.record_audit([undone])
            raise RuntimeError("the action failed")

    with pytest.raises(RuntimeError):
        await failed_action()
    async with backend.customers() as repo:
        await repo.record_audit([])
    assert await backend.audit_trail() == [kept]


# --- enrichment --------------------------------------------------------------------------


async def test_after_commit_has_run_once_when_the_transaction_has_committed(
    backend: Backend,
) -> None:
    calls: list[str] = []
    async with backend.enrichment() as repo:
        await repo.claim([Claim.of(r) for r in records([inbound("c1")])])
        repo.after_commit(lambda: calls.append("applied"))
    assert calls == ["applied"]


async def test_claims_tell_new_redelivered_and_copies_apart(backend: Backend) -> None:
    event = inbound("c1")
    first, same_batch_copy = (Claim.of(r) for r in records([event, event]))
    async with backend.enrichment() as repo:
        assert await repo.claim([first, same_batch_copy]) == [Delivery.NEW, Delivery.COPY]
    async with backend.enrichment() as repo:
        assert await repo.claim([first, same_batch_copy]) == [
            Delivery.REDELIVERED,
            Delivery.COPY,
        ]


async def test_lifecycle_newest_wins_and_a_placeholder_is_filled_in_by_its_contact(
    backend: Backend,
) -> None:
    resolved = LifecycleChange("c1", status="resolved", status_at=T0 + hours(2))
    reopened = LifecycleChange("c1", status="open", status_at=T0 + hours(1), csat=4, csat_at=T0)
    async with backend.enrichment() as repo:
        assert await repo.apply_lifecycle([resolved]) == 1
        await repo.apply_lifecycle([reopened])
        [placeholder] = await repo.stored_contacts([], ["c1"])
        assert (placeholder.inbound_event_id, placeholder.status) == (None, "resolved")
        assert (placeholder.csat, placeholder.csat_at) == (4, T0)
        assert await repo.record_contacts([contact("c1", None)]) == 1
        assert await repo.record_contacts([contact("c1", None, enriched=b"other")]) == 0
        [recorded] = await repo.stored_contacts(["in-c1"], [])
    assert (recorded.inbound_key, recorded.status) == (("connector/test", "in-c1"), "resolved")
    assert (recorded.enriched_key, recorded.enriched) == (b"c1", b"{}")


async def test_customers_are_found_by_identity_and_by_crm_id_of_a_merged_one(
    backend: Backend,
) -> None:
    await seed(
        backend,
        row("a", timezone="Europe/London", contract_id="gold"),
        row("b"),
        row("old", external_ref="crm-old"),
        a=["phone:+447700900123"],
        b=["phone:+447700900123"],
        old=["email:old@example.com"],
    )
    async with backend.customers() as customers:
        await customers.merge("old", "a")
    async with backend.enrichment() as repo:
        found = await repo.find_customers(
            [("phone", "+447700900123"), ("email", "old@example.com"), ("email", "x@y.z")],
            ["crm-old", "crm-nobody"],
        )
    assert found.by_identity == {
        ("phone", "+447700900123"): {"a", "b"},
        ("email", "old@example.com"): {"a"},
    }
    assert found.by_external_ref == {"crm-old": "a"}
    assert found.profiles["a"]["timezone"] == "Europe/London"
    assert (found.profiles["a"]["contract_id"], found.profiles["b"]["contract_id"]) == (
        "gold",
        None,
    )
    assert set(found.profiles) == {"a", "b"}


async def test_prior_history_counts_what_came_before_within_the_lookback(
    backend: Backend,
) -> None:
    t = T0 + hours(24 * 40)
    contacts = [
        contact("old", "a", occurred_at=t - hours(24 * 35)),
        contact("week", "a", occurred_at=t - hours(24 * 3), channel="email"),
        contact("day", "a", occurred_at=t - hours(2), contact_type="technical", channel="chat"),
        contact("later", "a", occurred_at=t + hours(1)),
        contact("other", "b", occurred_at=t - hours(1)),
    ]
    async with backend.enrichment() as repo:
        await repo.record_contacts(contacts)
        await repo.apply_lifecycle(
            [
                LifecycleChange(
                    "week",
                    status="resolved",
                    status_at=t - hours(70),
                    csat=2,
                    csat_at=t - hours(69),
                ),
                LifecycleChange("day", csat=5, csat_at=t - hours(1)),
            ]
        )
    rules = HistoryRules(lookback=hours(24 * 30))
    async with backend.enrichment() as repo:
        prior, none = await repo.prior_history(
            [("a", t, "billing"), ("nobody", t, "billing")], rules
        )
    assert none.last_at is None
    assert (prior.contacts_24h, prior.contacts_7d, prior.contacts_30d) == (1, 2, 2)
    assert prior.open_contacts == 1
    assert (prior.csat_sum, prior.csat_count) == (7, 2)
    assert prior.repeat is True, "the billing email 3 days before (72 h window: just inside)"
    assert (prior.last_at, prior.last_channel, prior.last_status) == (t - hours(2), "chat", "open")
    assert (prior.last_csat, prior.last_csat_at) == (5, t - hours(1))


async def test_a_lifecycle_for_a_recorded_contact_and_a_separate_csat_keep_each_other(
    backend: Backend,
) -> None:
    async with backend.enrichment() as repo:
        await repo.record_contacts([contact("c1", None)])
        await repo.apply_lifecycle(
            [LifecycleChange("c1", status="resolved", status_at=T0 + hours(1))]
        )
        await repo.apply_lifecycle([LifecycleChange("c1", csat=3, csat_at=T0 + hours(2))])
        await repo.apply_lifecycle(
            [LifecycleChange("c1", status="open", status_at=T0 + hours(0.5))]
        )
        [stored] = await repo.stored_contacts([], ["c1"])
    assert (stored.status, stored.csat) == ("resolved", 3)
