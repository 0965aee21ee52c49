"""The admin API's and the import's SQL (schema `profiles`): customers, identities, merges,
erasures and the contact history as the admin reads it.

`CustomerRepository` is the port the customers service needs; `PostgresCustomers`
implements it on one session, and `postgres_transactions` opens one transaction per use
(tests/profiles_fakes.py holds the in-memory one). Rows are plain mappings keyed by column name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from profile_lookup.audit_repository import insert_audit
from profile_lookup.enrichment_repository import PROFILE_COLUMNS
from switchboard_runtime.audit import AuditEntry

CUSTOMER_COLUMNS = ("customer_id", "external_ref", *PROFILE_COLUMNS, "country", "merged_into")


class KeyTaken(Exception):
    """A write lost to another customer holding the same customer_id or external_ref."""


class CustomerRepository(Protocol):
    """What the customers service reads and writes, inside one transaction."""

    async def get_customers(
        self, customer_ids: Sequence[str], external_refs: Sequence[str] = ()
    ) -> dict[str, dict[str, Any]]:
        """Customer rows by id, and by CRM id, keyed by customer id; merged ones included."""
        ...

    async def lock_customers(self, customer_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The rows of these customers, locked for update until the transaction ends."""
        ...

    async def identities_of(
        self, customer_ids: Sequence[str]
    ) -> dict[str, list[tuple[str, str]]]: ...

    async def customers_with_identity(self, kind: str, value: str) -> list[str]:
        """Ids of the customers (not merged away) holding this identity, in id order."""
        ...

    async def upsert_customers(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert or fully replace customer rows; raises `KeyTaken` on a duplicate CRM id."""
        ...

    async def replace_identities(
        self, identities: Mapping[str, Sequence[tuple[str, str]]]
    ) -> None: ...

    async def add_identities(self, identities: Mapping[str, Sequence[tuple[str, str]]]) -> int:
        """Adds the ones not there yet; returns how many were added."""
        ...

    async def remove_identity(self, customer_id: str, kind: str, value: str) -> bool: ...

    async def merge(self, source: str, target: str) -> dict[str, Any]: ...

    async def remove_customer(self, customer_id: str, *, erase: bool) -> dict[str, Any]:
        """Remove a customer and the tombstones merged into it; the report's `customer_ids`
        names every customer removed, in id order."""
        ...

    async def erasure_of(self, customer_id: str) -> dict[str, Any] | None: ...

    async def recent_contacts(
        self, customer_id: str, limit: int, after: tuple[datetime, str] | None = None
    ) -> list[dict[str, Any]]:
        """The customer's contacts newest first (ties: contact id descending), those after
        the (occurred_at, contact_id) position `after` only."""
        ...

    async def record_audit(self, entries: Sequence[AuditEntry]) -> None:
        """Append audit records (and queue them for publishing) in this transaction."""
        ...


Transactions = Callable[[], AbstractAsyncContextManager[CustomerRepository]]
"""Opens a transaction and hands its repository: committed when the block ends, rolled
back when it raises."""


def postgres_transactions(sessions: async_sessionmaker[AsyncSession]) -> Transactions:
    @asynccontextmanager
    async def transaction() -> AsyncIterator[CustomerRepository]:
        async with sessions() as session, session.begin():
            yield PostgresCustomers(session)

    return transaction


class PostgresCustomers:
    """`CustomerRepository` on one session; runs inside the caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get_customers(
        self, customer_ids: Sequence[str], external_refs: Sequence[str] = ()
    ) -> dict[str, dict[str, Any]]:
        """Customer rows by id, and by CRM id, keyed by customer id; merged ones included."""
        cols = ", ".join(CUSTOMER_COLUMNS)
        rows = await self._session.execute(
            text(
                f"SELECT {cols}, created_at, updated_at FROM profiles.customers"
                " WHERE customer_id = ANY(CAST(:ids AS text[]))"
                " OR external_ref = ANY(CAST(:refs AS text[]))"
            ),
            {"ids": list(customer_ids), "refs": list(external_refs)},
        )
        return {r.customer_id: dict(r._mapping) for r in rows}

    async def lock_customers(self, customer_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The rows of these customers, locked for update in id order (no deadlocks)."""
        cols = ", ".join(CUSTOMER_COLUMNS)
        rows = await self._session.execute(
            text(
                f"SELECT {cols}, created_at, updated_at FROM profiles.customers"
                " WHERE customer_id = ANY(CAST(:ids AS text[])) ORDER BY customer_id FOR UPDATE"
            ),
            {"ids": list(customer_ids)},
        )
        return {r.customer_id: dict(r._mapping) for r in rows}

    async def identities_of(self, customer_ids: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
        rows = await self._session.execute(
            text(
                "SELECT customer_id, kind, value FROM profiles.identities"
                " WHERE customer_id = ANY(CAST(:ids AS text[])) ORDER BY kind, value"
            ),
            {"ids": list(customer_ids)},
        )
        out: dict[str, list[tuple[str, str]]] = {}
        for r in rows:
            out.setdefault(r.customer_id, []).append((r.kind, r.value))
        return out

    async def customers_with_identity(self, kind: str, value: str) -> list[str]:
        rows = await self._session.execute(
            text(
                "SELECT i.customer_id FROM profiles.identities i"
                " JOIN profiles.customers c USING (customer_id)"
                " WHERE i.kind = :kind AND i.value = :value AND c.merged_into IS NULL"
                " ORDER BY i.customer_id"
            ),
            {"kind": kind, "value": value},
        )
        return [r.customer_id for r in rows]

    async def upsert_customers(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert or fully replace customer rows (every column of CUSTOMER_COLUMNS but merged_into)."""
        if not rows:
            return
        columns = [c for c in CUSTOMER_COLUMNS if c != "merged_into"]
        types = {"lifetime_value": "double precision"}
        arrays = ", ".join(f"CAST(:{c} AS {types.get(c, 'text')}[])" for c in columns)
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c != "customer_id")
        statement = text(
            f"INSERT INTO profiles.customers ({', '.join(columns)})"
            f" SELECT * FROM unnest({arrays})"
            f" ON CONFLICT (customer_id) DO UPDATE SET {updates}, updated_at = now()"
        )
        try:
            await self._session.execute(
                statement, {c: [row.get(c) for row in rows] for c in columns}
            )
        except IntegrityError as exc:
            raise KeyTaken("another customer holds this external_ref") from exc

    async def replace_identities(self, identities: Mapping[str, Sequence[tuple[str, str]]]) -> None:
        """Make each customer's identity set exactly the one given."""
        if not identities:
            return
        await self._session.execute(
            text("DELETE FROM profiles.identities WHERE customer_id = ANY(CAST(:ids AS text[]))"),
            {"ids": list(identities)},
        )
        await self.add_identities(identities)

    async def add_identities(self, identities: Mapping[str, Sequence[tuple[str, str]]]) -> int:
        triples = [(cid, kind, value) for cid, pairs in identities.items() for kind, value in pairs]
        if not triples:
            return 0
        result = await self._session.execute(
            text(
                "INSERT INTO profiles.identities (customer_id, kind, value)"
                " SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:kinds AS text[]),"
                " CAST(:values AS text[])) ON CONFLICT DO NOTHING"
            ),
            {
                "ids": [t[0] for t in triples],
                "kinds": [t[1] for t in triples],
                "values": [t[2] for t in triples],
            },
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def remove_identity(self, customer_id: str, kind: str, value: str) -> bool:
        result = await self._session.execute(
            text(
                "DELETE FROM profiles.identities"
                " WHERE customer_id = :id AND kind = :kind AND value = :value"
            ),
            {"id": customer_id, "kind": kind, "value": value},
        )
        return bool(getattr(result, "rowcount", 0))

    async def merge(self, source: str, target: str) -> dict[str, Any]:
        """Move the source's identities and history to the target; the source becomes a
        tombstone pointing at the target. The caller has locked and checked both rows."""
        moved = await self._session.execute(
            text(
                "WITH gone AS (DELETE FROM profiles.identities WHERE customer_id = :source"
                " RETURNING kind, value)"
                " INSERT INTO profiles.identities (customer_id, kind, value)"
                " SELECT :target, kind, value FROM gone ON CONFLICT DO NOTHING"
                " RETURNING 1"
            ),
            {"source": source, "target": target},
        )
        identities_moved = len(moved.all())
        contacts = await self._session.execute(
            text("UPDATE profiles.contacts SET customer_id = :target WHERE customer_id = :source"),
            {"source": source, "target": target},
        )
        contacts_moved = int(getattr(contacts, "rowcount", 0) or 0)
        fill = ", ".join(f"{c} = coalesce(t.{c}, s.{c})" for c in PROFILE_COLUMNS if c != "tier")
        await self._session.execute(
            text(
                f"UPDATE profiles.customers t SET {fill}, country = coalesce(t.country, s.country),"
                " updated_at = now() FROM profiles.customers s"
                " WHERE t.customer_id = :target AND s.customer_id = :source"
            ),
            {"source": source, "target": target},
        )
        await self._session.execute(
            text(
                "UPDATE profiles.customers SET merged_into = :target, updated_at = now()"
                " WHERE customer_id = :source OR merged_into = :source"
            ),
            {"source": source, "target": target},
        )
        row = await self._session.execute(
            text(
                "INSERT INTO profiles.merges"
                " (source_customer_id, target_customer_id, identities_moved, contacts_moved)"
                " VALUES (:source, :target, :identities, :contacts)"
                " RETURNING merge_id, merged_at"
            ),
            {
                "source": source,
                "target": target,
                "identities": identities_moved,
                "contacts": contacts_moved,
            },
        )
        merge_id, merged_at = row.one()
        return {
            "merge_id": merge_id,
            "source_customer_id": source,
            "target_customer_id": target,
            "identities_moved": identities_moved,
            "contacts_moved": contacts_moved,
            "merged_at": merged_at,
        }

    async def remove_customer(self, customer_id: str, *, erase: bool) -> dict[str, Any]:
        """Delete a customer (and the tombstones merged into it) with their identities.

        Their contacts stay, unlinked, so counts of past contacts survive. With `erase`,
        the stored enriched events (which hold the sender as spelled) are wiped as well and
        the erasure is recorded.
        """
        ids_rows = await self._session.execute(
            text(
                "SELECT customer_id FROM profiles.customers"
                " WHERE customer_id = :id OR merged_into = :id ORDER BY customer_id"
            ),
            {"id": customer_id},
        )
        ids = [r.customer_id for r in ids_rows]
        identities = await self._session.execute(
            text("DELETE FROM profiles.identities WHERE customer_id = ANY(CAST(:ids AS text[]))"),
            {"ids": ids},
        )
        wipe = ", enriched = NULL, enriched_key = NULL, erased = true" if erase else ""
        contacts = await self._session.execute(
            text(
                f"UPDATE profiles.contacts SET customer_id = NULL{wipe}, updated_at = now()"
                " WHERE customer_id = ANY(CAST(:ids AS text[]))"
            ),
            {"ids": ids},
        )
        await self._session.execute(
            text("DELETE FROM profiles.customers WHERE customer_id = ANY(CAST(:ids AS text[]))"),
            {"ids": ids},
        )
        report = {
            "customer_id": customer_id,
            "customer_ids": ids,
            "customers_removed": len(ids),
            "identities_deleted": int(getattr(identities, "rowcount", 0) or 0),
            "contacts_unlinked": int(getattr(contacts, "rowcount", 0) or 0),
        }
        if erase:
            row = await self._session.execute(
                text(
                    "INSERT INTO profiles.erasures"
                    " (customer_id, identities_deleted, contacts_anonymised)"
                    " VALUES (:id, :identities, :contacts) RETURNING erasure_id, erased_at"
                ),
                {
                    "id": customer_id,
                    "identities": report["identities_deleted"],
                    "contacts": report["contacts_unlinked"],
                },
            )
            erasure_id, erased_at = row.one()
            report |= {"erasure_id": erasure_id, "erased_at": erased_at}
        return report

    async def erasure_of(self, customer_id: str) -> dict[str, Any] | None:
        row = await self._session.execute(
            text(
                "SELECT erasure_id, erased_at FROM profiles.erasures WHERE customer_id = :id"
                " ORDER BY erased_at DESC LIMIT 1"
            ),
            {"id": customer_id},
        )
        found = row.first()
        return dict(found._mapping) if found else None

    async def recent_contacts(
        self, customer_id: str, limit: int, after: tuple[datetime, str] | None = None
    ) -> list[dict[str, Any]]:
        # A keyset, not an offset: a contact recorded meanwhile shifts no page.
        at, contact_id = after or (None, None)
        rows = await self._session.execute(
            text(
                "SELECT contact_id, inbound_event_id, channel, contact_type, occurred_at,"
                " identification, status, closed_at, csat"
                " FROM profiles.contacts WHERE customer_id = :id"
                " AND (CAST(:at AS timestamptz) IS NULL"
                " OR (occurred_at, contact_id) < (CAST(:at AS timestamptz), CAST(:after AS text)))"
                " ORDER BY occurred_at DESC, contact_id DESC LIMIT :limit"
            ),
            {"id": customer_id, "limit": limit, "at": at, "after": contact_id},
        )
        return [dict(r._mapping) for r in rows]

    async def record_audit(self, entries: Sequence[AuditEntry]) -> None:
        await insert_audit(self._session, entries)


@asynccontextmanager
async def rehearsal(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[Transactions]:
    """Transactions that are undone: each use a savepoint of one transaction rolled back
    when the block ends, so later uses see earlier ones' writes and nothing stays (what
    `check` runs an import in). Rows written stay locked until then."""
    async with sessions() as session:
        outer = await session.begin()
        try:

            @asynccontextmanager
            async def transaction() -> AsyncIterator[CustomerRepository]:
                async with session.begin_nested():
                    yield PostgresCustomers(session)

            yield transaction
        finally:
            await outer.rollback()
