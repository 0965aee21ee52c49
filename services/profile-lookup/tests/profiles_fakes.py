"""In-memory fakes of profile-lookup's two repository ports, sharing one fake database.

They behave as the PostgreSQL implementations do (the contract suite,
test_profiles_repository_contract.py, runs the same tests on both), so service tests
need no database. A transaction of `fake_transactions` is rolled back when it raises.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from profile_lookup.customer_repository import (
    CUSTOMER_COLUMNS,
    CustomerRepository,
    KeyTaken,
    Transactions,
)
from profile_lookup.domain.history import OPEN, HistoryRules, LifecycleChange, Prior
from profile_lookup.enrichment_repository import (
    PROFILE_COLUMNS,
    EnrichmentRepository,
    Found,
    NewContact,
    StoredContact,
)
from switchboard_events.testing import T0
from switchboard_runtime.audit import AuditEntry
from switchboard_runtime.db import Claim, Delivery

Position = tuple[str, int, int]
RECENT_CONTACT_COLUMNS = (
    "contact_id",
    "inbound_event_id",
    "channel",
    "contact_type",
    "occurred_at",
    "identification",
    "status",
    "closed_at",
    "csat",
)


@dataclass
class Tables:
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    identities: set[tuple[str, str, str]] = field(default_factory=set)
    """(customer id, kind, value)"""
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    processed: dict[tuple[str, str, str], Position] = field(default_factory=dict)
    merges: list[dict[str, Any]] = field(default_factory=list)
    erasures: list[dict[str, Any]] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)


class FakeDatabase:
    """The profiles schema in memory; `now` stands for the database's now()."""

    def __init__(self, now: datetime = T0) -> None:
        self.tables = Tables()
        self.now = now
        self._ids = itertools.count(1)

    def next_id(self) -> int:
        return next(self._ids)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        saved = copy.deepcopy(self.tables)
        try:
            yield
        except BaseException:
            self.tables = saved
            raise


def fake_transactions(db: FakeDatabase) -> Transactions:
    @asynccontextmanager
    async def transaction() -> AsyncIterator[CustomerRepository]:
        async with db.transaction():
            yield FakeCustomers(db)

    return transaction


class FakeEnrichment(EnrichmentRepository):
    def __init__(self, db: FakeDatabase) -> None:
        self._db = db

    @property
    def _t(self) -> Tables:
        return self._db.tables

    async def claim(self, claims: Sequence[Claim]) -> list[Delivery]:
        seen = {n: self._t.processed.get(_key(c)) for n, c in enumerate(claims)}
        inserted: set[Position] = set()
        for n, c in enumerate(claims):
            if seen[n] is None and _key(c) not in self._t.processed:
                self._t.processed[_key(c)] = (c.topic, c.partition, c.offset)
                inserted.add((c.topic, c.partition, c.offset))
        deliveries = []
        for n, c in enumerate(claims):
            position = (c.topic, c.partition, c.offset)
            if position in inserted:
                deliveries.append(Delivery.NEW)
            elif seen[n] == position:
                deliveries.append(Delivery.REDELIVERED)
            else:
                deliveries.append(Delivery.COPY)
        return deliveries

    def after_commit(self, applied: Callable[[], None]) -> None:
        applied()  # at once: the service tests read the counters right after a batch

    async def apply_lifecycle(self, changes: Sequence[LifecycleChange]) -> int:
        for change in changes:
            row = self._t.contacts.get(change.contact_id)
            if row is None:
                self._t.contacts[change.contact_id] = _contact(
                    change.contact_id,
                    self._db.now,
                    status=change.status or OPEN,
                    status_at=change.status_at,
                    closed_at=change.closed_at,
                    csat=change.csat,
                    csat_at=change.csat_at,
                )
                continue
            if _newer(change.status_at, row["status_at"]):
                row["status"] = change.status or OPEN
                row["status_at"] = change.status_at
                row["closed_at"] = change.closed_at
            if _newer(change.csat_at, row["csat_at"]):
                row["csat"] = change.csat
                row["csat_at"] = change.csat_at
            row["updated_at"] = self._db.now
        return len(changes)

    async def stored_contacts(
        self, event_ids: Sequence[str], contact_ids: Sequence[str]
    ) -> list[StoredContact]:
        return [
            StoredContact(
                r["contact_id"],
                r["inbound_event_id"],
                r["inbound_source"],
                r["status"],
                r["csat"],
                r["csat_at"],
                r["enriched_key"],
                r["enriched"],
            )
            for r in self._t.contacts.values()
            if r["inbound_event_id"] in event_ids or r["contact_id"] in contact_ids
        ]

    async def find_customers(
        self, identities: Iterable[tuple[str, str]], refs: Iterable[str]
    ) -> Found:
        found = Found({}, {}, {})
        customers = self._t.customers
        for kind, value in set(identities):
            for cid, k, v in self._t.identities:
                if (k, v) == (kind, value) and customers[cid]["merged_into"] is None:
                    found.by_identity.setdefault((kind, value), set()).add(cid)
                    found.profiles[cid] = _profile(customers[cid])
        for ref in set(refs):
            for row in customers.values():
                if row["external_ref"] == ref:
                    survivor = row["merged_into"] or row["customer_id"]
                    found.by_external_ref[ref] = survivor
                    found.profiles[survivor] = _profile(customers[survivor])
        return found

    async def prior_history(
        self, queries: Sequence[tuple[str, datetime, str]], rules: HistoryRules
    ) -> list[Prior]:
        return [self._prior(cid, t, ctype, rules) for cid, t, ctype in queries]

    def _prior(self, customer_id: str, t: datetime, ctype: str, rules: HistoryRules) -> Prior:
        rows = [
            r
            for r in self._t.contacts.values()
            if r["customer_id"] == customer_id
            and r["occurred_at"] is not None
            and t - rules.lookback <= r["occurred_at"] < t
        ]
        if not rows:
            return Prior()
        last = max(rows, key=lambda r: r["occurred_at"])
        rated = [r for r in rows if r["csat"] is not None]
        last_rated = max(rated, key=lambda r: r["csat_at"], default=None)

        def since(span: timedelta) -> int:
            return sum(1 for r in rows if r["occurred_at"] >= t - span)

        return Prior(
            contacts_24h=since(timedelta(days=1)),
            contacts_7d=since(timedelta(days=7)),
            contacts_30d=since(timedelta(days=30)),
            open_contacts=sum(1 for r in rows if r["status"] == OPEN),
            csat_sum=sum(r["csat"] for r in rated),
            csat_count=len(rated),
            repeat=any(
                r["occurred_at"] >= t - rules.repeat_window
                and (not rules.repeat_same_type or r["contact_type"] == ctype)
                for r in rows
            ),
            last_at=last["occurred_at"],
            last_channel=last["channel"],
            last_status=last["status"],
            last_csat=last_rated["csat"] if last_rated else None,
            last_csat_at=last_rated["csat_at"] if last_rated else None,
        )

    async def record_contacts(self, contacts: Sequence[NewContact]) -> int:
        written = 0
        for c in contacts:
            row = self._t.contacts.get(c.contact_id)
            if row is not None and row["inbound_event_id"] is not None:
                continue
            row = row or _contact(c.contact_id, self._db.now)
            row.update(
                inbound_event_id=c.inbound_event_id,
                inbound_source=c.inbound_source,
                customer_id=c.customer_id,
                channel=c.channel,
                contact_type=c.contact_type,
                occurred_at=c.occurred_at,
                identification=c.identification,
                enriched_key=c.enriched_key,
                enriched=c.enriched,
                recorded_at=self._db.now,
                updated_at=self._db.now,
            )
            self._t.contacts[c.contact_id] = row
            written += 1
        return written


class FakeCustomers(CustomerRepository):
    def __init__(self, db: FakeDatabase) -> None:
        self._db = db

    @property
    def _t(self) -> Tables:
        return self._db.tables

    async def get_customers(
        self, customer_ids: Sequence[str], external_refs: Sequence[str] = ()
    ) -> dict[str, dict[str, Any]]:
        return {
            cid: dict(row)
            for cid, row in self._t.customers.items()
            if cid in customer_ids or row["external_ref"] in external_refs
        }

    async def lock_customers(self, customer_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        return {
            cid: dict(self._t.customers[cid]) for cid in customer_ids if cid in self._t.customers
        }

    async def identities_of(self, customer_ids: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
        out: dict[str, list[tuple[str, str]]] = {}
        for cid, kind, value in sorted(self._t.identities, key=lambda i: (i[1], i[2])):
            if cid in customer_ids:
                out.setdefault(cid, []).append((kind, value))
        return out

    async def customers_with_identity(self, kind: str, value: str) -> list[str]:
        return sorted(
            cid
            for cid, k, v in self._t.identities
            if (k, v) == (kind, value) and self._t.customers[cid]["merged_into"] is None
        )

    async def upsert_customers(self, rows: Sequence[Mapping[str, Any]]) -> None:
        owners = {r["external_ref"]: cid for cid, r in self._t.customers.items()}
        for row in rows:
            ref = row.get("external_ref")
            if ref is not None and owners.setdefault(ref, row["customer_id"]) != row["customer_id"]:
                raise KeyTaken("another customer holds this external_ref")
        columns = [c for c in CUSTOMER_COLUMNS if c != "merged_into"]
        for row in rows:
            stored = self._t.customers.setdefault(
                row["customer_id"], {"merged_into": None, "created_at": self._db.now}
            )
            stored.update({c: row.get(c) for c in columns}, updated_at=self._db.now)

    async def replace_identities(self, identities: Mapping[str, Sequence[tuple[str, str]]]) -> None:
        self._t.identities = {i for i in self._t.identities if i[0] not in identities}
        await self.add_identities(identities)

    async def add_identities(self, identities: Mapping[str, Sequence[tuple[str, str]]]) -> int:
        added = 0
        for cid, pairs in identities.items():
            for kind, value in pairs:
                if (cid, kind, value) not in self._t.identities:
                    self._t.identities.add((cid, kind, value))
                    added += 1
        return added

    async def remove_identity(self, customer_id: str, kind: str, value: str) -> bool:
        there = (customer_id, kind, value) in self._t.identities
        self._t.identities.discard((customer_id, kind, value))
        return there

    async def merge(self, source: str, target: str) -> dict[str, Any]:
        gone = {(k, v) for cid, k, v in self._t.identities if cid == source}
        self._t.identities = {i for i in self._t.identities if i[0] != source}
        moved = await self.add_identities({target: sorted(gone)})
        contacts = [c for c in self._t.contacts.values() if c["customer_id"] == source]
        for contact in contacts:
            contact["customer_id"] = target
        survivor, merged = self._t.customers[target], self._t.customers[source]
        for column in (*PROFILE_COLUMNS, "country"):
            if column != "tier" and survivor[column] is None:
                survivor[column] = merged[column]
        for row in self._t.customers.values():
            if source in (row["customer_id"], row["merged_into"]):
                row["merged_into"] = target
        record = {
            "merge_id": self._db.next_id(),
            "source_customer_id": source,
            "target_customer_id": target,
            "identities_moved": moved,
            "contacts_moved": len(contacts),
            "merged_at": self._db.now,
        }
        self._t.merges.append(record)
        return dict(record)

    async def remove_customer(self, customer_id: str, *, erase: bool) -> dict[str, Any]:
        ids = sorted(
            cid
            for cid, row in self._t.customers.items()
            if customer_id in (cid, row["merged_into"])
        )
        identities = {i for i in self._t.identities if i[0] in ids}
        self._t.identities -= identities
        contacts = [c for c in self._t.contacts.values() if c["customer_id"] in ids]
        for contact in contacts:
            contact["customer_id"] = None
            if erase:
                contact.update(enriched=None, enriched_key=None, erased=True)
        for cid in ids:
            del self._t.customers[cid]
        report: dict[str, Any] = {
            "customer_id": customer_id,
            "customer_ids": ids,
            "customers_removed": len(ids),
            "identities_deleted": len(identities),
            "contacts_unlinked": len(contacts),
        }
        if erase:
            erasure = {
                "erasure_id": self._db.next_id(),
                "erased_at": self._db.now,
                "customer_id": customer_id,
            }
            self._t.erasures.append(erasure)
            report |= {"erasure_id": erasure["erasure_id"], "erased_at": erasure["erased_at"]}
        return report

    async def erasure_of(self, customer_id: str) -> dict[str, Any] | None:
        mine = [e for e in self._t.erasures if e["customer_id"] == customer_id]
        if not mine:
            return None
        latest = max(mine, key=lambda e: e["erased_at"])
        return {"erasure_id": latest["erasure_id"], "erased_at": latest["erased_at"]}

    async def recent_contacts(
        self, customer_id: str, limit: int, after: tuple[datetime, str] | None = None
    ) -> list[dict[str, Any]]:
        mine = sorted(
            (c for c in self._t.contacts.values() if c["customer_id"] == customer_id),
            key=lambda c: (c["occurred_at"], c["contact_id"]),
            reverse=True,
        )
        if after is not None:
            mine = [c for c in mine if (c["occurred_at"], c["contact_id"]) < after]
        return [{k: c[k] for k in RECENT_CONTACT_COLUMNS} for c in mine[:limit]]

    async def record_audit(self, entries: Sequence[AuditEntry]) -> None:
        self._t.audit.extend(entries)


def _key(claim: Claim) -> tuple[str, str, str]:
    return (claim.key.type, claim.key.source, claim.key.id)


def _newer(given: datetime | None, stored: datetime | None) -> bool:
    return given is not None and (stored is None or given >= stored)


def _contact(contact_id: str, now: datetime, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(
        (
            "inbound_event_id",
            "inbound_source",
            "customer_id",
            "channel",
            "contact_type",
            "occurred_at",
            "identification",
            "status_at",
            "closed_at",
            "csat",
            "csat_at",
            "enriched_key",
            "enriched",
            "recorded_at",
        )
    )
    row.update(contact_id=contact_id, status=OPEN, erased=False, updated_at=now)
    row.update(values)
    return row


def _profile(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"customer_id": row["customer_id"]} | {col: row[col] for col in PROFILE_COLUMNS}
