"""All SQL of profile-lookup (schema `profiles`).

Every function takes the caller's session and runs inside the caller's transaction.
The consumer's functions take a whole batch and make one round trip each
(`= ANY(...)`, `unnest(...)`), never one per event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from profile_lookup.config import SCHEMA
from profile_lookup.domain.history import HistoryRules, LifecycleChange, Prior
from switchboard_runtime.db import Claim, Delivery, claim_events

PROFILE_COLUMNS = (
    "tier",
    "segment",
    "display_name",
    "language",
    "region",
    "timezone",
    "lifetime_value",
)
CUSTOMER_COLUMNS = ("customer_id", "external_ref", *PROFILE_COLUMNS, "country", "merged_into")


# --- the consumer --------------------------------------------------------------------------


async def claim(session: AsyncSession, claims: Sequence[Claim]) -> list[Delivery]:
    """Record the events as processed; returns what each record is, in order."""
    return await claim_events(session, SCHEMA, claims)


async def apply_lifecycle(session: AsyncSession, changes: Sequence[LifecycleChange]) -> int:
    """Apply lifecycle changes; a contact not yet recorded gets a placeholder row.

    The newest event wins per field group (status, satisfaction), whatever the order
    in which events arrive, so a late or repeated event changes nothing.
    """
    if not changes:
        return 0
    newer_status = "EXCLUDED.status_at IS NOT NULL AND (c.status_at IS NULL OR EXCLUDED.status_at >= c.status_at)"
    newer_csat = (
        "EXCLUDED.csat_at IS NOT NULL AND (c.csat_at IS NULL OR EXCLUDED.csat_at >= c.csat_at)"
    )
    result = await session.execute(
        text(
            f"""
            INSERT INTO profiles.contacts AS c
                (contact_id, status, status_at, closed_at, csat, csat_at, updated_at)
            SELECT q.contact_id, coalesce(q.status, 'open'), q.status_at, q.closed_at,
                   q.csat, q.csat_at, now()
            FROM unnest(CAST(:ids AS text[]), CAST(:statuses AS text[]),
                        CAST(:status_at AS timestamptz[]), CAST(:closed_at AS timestamptz[]),
                        CAST(:csat AS smallint[]), CAST(:csat_at AS timestamptz[]))
                 AS q(contact_id, status, status_at, closed_at, csat, csat_at)
            ON CONFLICT (contact_id) DO UPDATE SET
                status = CASE WHEN {newer_status} THEN EXCLUDED.status ELSE c.status END,
                closed_at = CASE WHEN {newer_status} THEN EXCLUDED.closed_at ELSE c.closed_at END,
                status_at = CASE WHEN {newer_status} THEN EXCLUDED.status_at ELSE c.status_at END,
                csat = CASE WHEN {newer_csat} THEN EXCLUDED.csat ELSE c.csat END,
                csat_at = CASE WHEN {newer_csat} THEN EXCLUDED.csat_at ELSE c.csat_at END,
                updated_at = now()
            """
        ),
        {
            "ids": [c.contact_id for c in changes],
            "statuses": [c.status for c in changes],
            "status_at": [c.status_at for c in changes],
            "closed_at": [c.closed_at for c in changes],
            "csat": [c.csat for c in changes],
            "csat_at": [c.csat_at for c in changes],
        },
    )
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True, slots=True)
class StoredContact:
    """A contacts row as the consumer needs it: placeholder state or the stored output."""

    contact_id: str
    inbound_event_id: str | None
    inbound_source: str | None
    status: str
    csat: int | None
    csat_at: datetime | None
    enriched_key: bytes | None
    enriched: bytes | None

    @property
    def inbound_key(self) -> tuple[str | None, str | None]:
        """(source, id) of the inbound event; the source is None for rows recorded before
        contacts stored it."""
        return (self.inbound_source, self.inbound_event_id)


async def stored_contacts(
    session: AsyncSession, event_ids: Sequence[str], contact_ids: Sequence[str]
) -> list[StoredContact]:
    """Rows of inbound events with these ids (of any source) or of these contacts
    (recorded or placeholders)."""
    if not event_ids and not contact_ids:
        return []
    rows = await session.execute(
        text(
            "SELECT contact_id, inbound_event_id, inbound_source, status, csat, csat_at,"
            " enriched_key, enriched"
            " FROM profiles.contacts"
            " WHERE inbound_event_id = ANY(CAST(:events AS text[]))"
            " OR contact_id = ANY(CAST(:contacts AS text[]))"
        ),
        {"events": list(event_ids), "contacts": list(contact_ids)},
    )
    return [
        StoredContact(
            r.contact_id,
            r.inbound_event_id,
            r.inbound_source,
            r.status,
            r.csat,
            r.csat_at,
            bytes(r.enriched_key) if r.enriched_key is not None else None,
            bytes(r.enriched) if r.enriched is not None else None,
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class Found:
    """Customers matching a batch's identities and external references, with profiles."""

    by_identity: dict[tuple[str, str], set[str]]
    by_external_ref: dict[str, str]
    profiles: dict[str, dict[str, Any]]


async def find_customers(
    session: AsyncSession, identities: Iterable[tuple[str, str]], refs: Iterable[str]
) -> Found:
    """One query for every identity and CRM id of a batch. Merged CRM ids resolve to the
    customer they were merged into."""
    pairs = sorted(set(identities))
    wanted_refs = sorted(set(refs))
    found = Found({}, {}, {})
    if not pairs and not wanted_refs:
        return found
    profile = ", ".join(f"c.{col}" for col in PROFILE_COLUMNS)
    rows = await session.execute(
        text(
            f"""
            SELECT i.kind, i.value, c.customer_id, {profile}
            FROM unnest(CAST(:kinds AS text[]), CAST(:values AS text[])) AS q(kind, value)
            JOIN profiles.identities i ON i.kind = q.kind AND i.value = q.value
            JOIN profiles.customers c ON c.customer_id = i.customer_id
            WHERE c.merged_into IS NULL
            UNION ALL
            SELECT 'external_ref', q.ref, c.customer_id, {profile}
            FROM unnest(CAST(:refs AS text[])) AS q(ref)
            JOIN profiles.customers s ON s.external_ref = q.ref
            JOIN profiles.customers c ON c.customer_id = coalesce(s.merged_into, s.customer_id)
            """
        ),
        {
            "kinds": [kind for kind, _ in pairs],
            "values": [value for _, value in pairs],
            "refs": wanted_refs,
        },
    )
    for row in rows:
        m = row._mapping
        customer = m["customer_id"]
        if m["kind"] == "external_ref":
            found.by_external_ref[m["value"]] = customer
        else:
            found.by_identity.setdefault((m["kind"], m["value"]), set()).add(customer)
        found.profiles[customer] = {"customer_id": customer} | {
            col: m[col] for col in PROFILE_COLUMNS
        }
    return found


async def prior_history(
    session: AsyncSession,
    queries: Sequence[tuple[str, datetime, str]],
    rules: HistoryRules,
) -> list[Prior]:
    """For each (customer id, moment, contact type): the recorded history before it, within
    the lookback (one index range scan per entry, aggregated in the database)."""
    if not queries:
        return []
    rows = await session.execute(
        text(
            """
            SELECT q.idx, a.*
            FROM unnest(CAST(:customers AS text[]), CAST(:times AS timestamptz[]),
                        CAST(:types AS text[])) WITH ORDINALITY AS q(customer_id, t, ctype, idx)
            CROSS JOIN LATERAL (
                SELECT count(*) FILTER (WHERE c.occurred_at >= q.t - interval '1 day') AS c24,
                       count(*) FILTER (WHERE c.occurred_at >= q.t - interval '7 days') AS c7,
                       count(*) FILTER (WHERE c.occurred_at >= q.t - interval '30 days') AS c30,
                       count(*) FILTER (WHERE c.status = 'open') AS open,
                       coalesce(sum(c.csat), 0) AS csat_sum,
                       count(c.csat) AS csat_n,
                       coalesce(bool_or(c.occurred_at >= q.t - CAST(:repeat AS interval)
                                AND (NOT CAST(:same_type AS boolean) OR c.contact_type = q.ctype)),
                                false) AS rep,
                       max(c.occurred_at) AS last_at,
                       (array_agg(c.channel ORDER BY c.occurred_at DESC))[1] AS last_channel,
                       (array_agg(c.status ORDER BY c.occurred_at DESC))[1] AS last_status,
                       (array_agg(c.csat ORDER BY c.csat_at DESC)
                            FILTER (WHERE c.csat IS NOT NULL))[1] AS last_csat,
                       max(c.csat_at) FILTER (WHERE c.csat IS NOT NULL) AS last_csat_at
                FROM profiles.contacts c
                WHERE c.customer_id = q.customer_id AND c.occurred_at < q.t
                  AND c.occurred_at >= q.t - CAST(:lookback AS interval)
            ) a
            WHERE a.last_at IS NOT NULL
            """
        ),
        {
            "customers": [q[0] for q in queries],
            "times": [q[1] for q in queries],
            "types": [q[2] for q in queries],
            "repeat": rules.repeat_window,
            "same_type": rules.repeat_same_type,
            "lookback": rules.lookback,
        },
    )
    priors: list[Prior] = [Prior()] * len(queries)
    for r in rows:
        priors[r.idx - 1] = Prior(
            contacts_24h=r.c24,
            contacts_7d=r.c7,
            contacts_30d=r.c30,
            open_contacts=r.open,
            csat_sum=int(r.csat_sum),
            csat_count=r.csat_n,
            repeat=r.rep,
            last_at=r.last_at,
            last_channel=r.last_channel,
            last_status=r.last_status,
            last_csat=r.last_csat,
            last_csat_at=r.last_csat_at,
        )
    return priors


@dataclass(frozen=True, slots=True)
class NewContact:
    contact_id: str
    inbound_event_id: str
    inbound_source: str
    customer_id: str | None
    channel: str
    contact_type: str
    occurred_at: datetime
    identification: str
    enriched_key: bytes
    enriched: bytes


async def record_contacts(session: AsyncSession, contacts: Sequence[NewContact]) -> int:
    """Record new contacts (filling in placeholders left by early lifecycle events)."""
    if not contacts:
        return 0
    result = await session.execute(
        text(
            """
            INSERT INTO profiles.contacts AS c
                (contact_id, inbound_event_id, inbound_source, customer_id, channel,
                 contact_type, occurred_at, identification, enriched_key, enriched,
                 recorded_at, updated_at)
            SELECT q.*, now(), now()
            FROM unnest(CAST(:ids AS text[]), CAST(:events AS text[]),
                        CAST(:sources AS text[]), CAST(:customers AS text[]),
                        CAST(:channels AS text[]), CAST(:types AS text[]),
                        CAST(:times AS timestamptz[]), CAST(:idents AS text[]),
                        CAST(:keys AS bytea[]), CAST(:values AS bytea[])) AS q
            ON CONFLICT (contact_id) DO UPDATE SET
                inbound_event_id = EXCLUDED.inbound_event_id,
                inbound_source = EXCLUDED.inbound_source,
                customer_id = EXCLUDED.customer_id,
                channel = EXCLUDED.channel,
                contact_type = EXCLUDED.contact_type,
                occurred_at = EXCLUDED.occurred_at,
                identification = EXCLUDED.identification,
                enriched_key = EXCLUDED.enriched_key,
                enriched = EXCLUDED.enriched,
                recorded_at = now(),
                updated_at = now()
            WHERE c.inbound_event_id IS NULL
            """
        ),
        {
            "ids": [c.contact_id for c in contacts],
            "events": [c.inbound_event_id for c in contacts],
            "sources": [c.inbound_source for c in contacts],
            "customers": [c.customer_id for c in contacts],
            "channels": [c.channel for c in contacts],
            "types": [c.contact_type for c in contacts],
            "times": [c.occurred_at for c in contacts],
            "idents": [c.identification for c in contacts],
            "keys": [c.enriched_key for c in contacts],
            "values": [c.enriched for c in contacts],
        },
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --- the admin API and the import ---------------------------------------------------------


async def get_customers(
    session: AsyncSession, customer_ids: Sequence[str], external_refs: Sequence[str] = ()
) -> dict[str, dict[str, Any]]:
    """Customer rows by id, and by CRM id, keyed by customer id; merged ones included."""
    cols = ", ".join(CUSTOMER_COLUMNS)
    rows = await session.execute(
        text(
            f"SELECT {cols}, created_at, updated_at FROM profiles.customers"
            " WHERE customer_id = ANY(CAST(:ids AS text[]))"
            " OR external_ref = ANY(CAST(:refs AS text[]))"
        ),
        {"ids": list(customer_ids), "refs": list(external_refs)},
    )
    return {r.customer_id: dict(r._mapping) for r in rows}


async def lock_customers(
    session: AsyncSession, customer_ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """The rows of these customers, locked for update in id order (no deadlocks)."""
    cols = ", ".join(CUSTOMER_COLUMNS)
    rows = await session.execute(
        text(
            f"SELECT {cols}, created_at, updated_at FROM profiles.customers"
            " WHERE customer_id = ANY(CAST(:ids AS text[])) ORDER BY customer_id FOR UPDATE"
        ),
        {"ids": list(customer_ids)},
    )
    return {r.customer_id: dict(r._mapping) for r in rows}


async def identities_of(
    session: AsyncSession, customer_ids: Sequence[str]
) -> dict[str, list[tuple[str, str]]]:
    rows = await session.execute(
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


async def customers_with_identity(session: AsyncSession, kind: str, value: str) -> list[str]:
    rows = await session.execute(
        text(
            "SELECT i.customer_id FROM profiles.identities i"
            " JOIN profiles.customers c USING (customer_id)"
            " WHERE i.kind = :kind AND i.value = :value AND c.merged_into IS NULL"
            " ORDER BY i.customer_id"
        ),
        {"kind": kind, "value": value},
    )
    return [r.customer_id for r in rows]


async def upsert_customers(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert or fully replace customer rows (every column of CUSTOMER_COLUMNS but merged_into)."""
    if not rows:
        return
    columns = [c for c in CUSTOMER_COLUMNS if c != "merged_into"]
    types = {"lifetime_value": "double precision"}
    arrays = ", ".join(f"CAST(:{c} AS {types.get(c, 'text')}[])" for c in columns)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c != "customer_id")
    await session.execute(
        text(
            f"INSERT INTO profiles.customers ({', '.join(columns)})"
            f" SELECT * FROM unnest({arrays})"
            f" ON CONFLICT (customer_id) DO UPDATE SET {updates}, updated_at = now()"
        ),
        {c: [row.get(c) for row in rows] for c in columns},
    )


async def replace_identities(
    session: AsyncSession, identities: Mapping[str, Sequence[tuple[str, str]]]
) -> None:
    """Make each customer's identity set exactly the one given."""
    if not identities:
        return
    await session.execute(
        text("DELETE FROM profiles.identities WHERE customer_id = ANY(CAST(:ids AS text[]))"),
        {"ids": list(identities)},
    )
    await add_identities(session, identities)


async def add_identities(
    session: AsyncSession, identities: Mapping[str, Sequence[tuple[str, str]]]
) -> int:
    triples = [(cid, kind, value) for cid, pairs in identities.items() for kind, value in pairs]
    if not triples:
        return 0
    result = await session.execute(
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


async def remove_identity(session: AsyncSession, customer_id: str, kind: str, value: str) -> bool:
    result = await session.execute(
        text(
            "DELETE FROM profiles.identities"
            " WHERE customer_id = :id AND kind = :kind AND value = :value"
        ),
        {"id": customer_id, "kind": kind, "value": value},
    )
    return bool(getattr(result, "rowcount", 0))


async def merge(session: AsyncSession, source: str, target: str) -> dict[str, Any]:
    """Move the source's identities and history to the target; the source becomes a
    tombstone pointing at the target. The caller has locked and checked both rows."""
    moved = await session.execute(
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
    contacts = await session.execute(
        text("UPDATE profiles.contacts SET customer_id = :target WHERE customer_id = :source"),
        {"source": source, "target": target},
    )
    contacts_moved = int(getattr(contacts, "rowcount", 0) or 0)
    fill = ", ".join(f"{c} = coalesce(t.{c}, s.{c})" for c in PROFILE_COLUMNS if c != "tier")
    await session.execute(
        text(
            f"UPDATE profiles.customers t SET {fill}, country = coalesce(t.country, s.country),"
            " updated_at = now() FROM profiles.customers s"
            " WHERE t.customer_id = :target AND s.customer_id = :source"
        ),
        {"source": source, "target": target},
    )
    await session.execute(
        text(
            "UPDATE profiles.customers SET merged_into = :target, updated_at = now()"
            " WHERE customer_id = :source OR merged_into = :source"
        ),
        {"source": source, "target": target},
    )
    row = await session.execute(
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


async def remove_customer(
    session: AsyncSession, customer_id: str, *, erase: bool
) -> dict[str, Any]:
    """Delete a customer (and the tombstones merged into it) with their identities.

    Their contacts stay, unlinked, so counts of past contacts survive. With `erase`,
    the stored enriched events (which hold the sender as spelled) are wiped as well and
    the erasure is recorded.
    """
    ids_rows = await session.execute(
        text(
            "SELECT customer_id FROM profiles.customers"
            " WHERE customer_id = :id OR merged_into = :id"
        ),
        {"id": customer_id},
    )
    ids = [r.customer_id for r in ids_rows]
    identities = await session.execute(
        text("DELETE FROM profiles.identities WHERE customer_id = ANY(CAST(:ids AS text[]))"),
        {"ids": ids},
    )
    wipe = ", enriched = NULL, enriched_key = NULL, erased = true" if erase else ""
    contacts = await session.execute(
        text(
            f"UPDATE profiles.contacts SET customer_id = NULL{wipe}, updated_at = now()"
            " WHERE customer_id = ANY(CAST(:ids AS text[]))"
        ),
        {"ids": ids},
    )
    await session.execute(
        text("DELETE FROM profiles.customers WHERE customer_id = ANY(CAST(:ids AS text[]))"),
        {"ids": ids},
    )
    report = {
        "customer_id": customer_id,
        "customers_removed": len(ids),
        "identities_deleted": int(getattr(identities, "rowcount", 0) or 0),
        "contacts_unlinked": int(getattr(contacts, "rowcount", 0) or 0),
    }
    if erase:
        row = await session.execute(
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


async def erasure_of(session: AsyncSession, customer_id: str) -> dict[str, Any] | None:
    row = await session.execute(
        text(
            "SELECT erasure_id, erased_at FROM profiles.erasures WHERE customer_id = :id"
            " ORDER BY erased_at DESC LIMIT 1"
        ),
        {"id": customer_id},
    )
    found = row.first()
    return dict(found._mapping) if found else None


async def recent_contacts(
    session: AsyncSession, customer_id: str, limit: int
) -> list[dict[str, Any]]:
    rows = await session.execute(
        text(
            "SELECT contact_id, inbound_event_id, channel, contact_type, occurred_at,"
            " identification, status, closed_at, csat"
            " FROM profiles.contacts WHERE customer_id = :id"
            " ORDER BY occurred_at DESC LIMIT :limit"
        ),
        {"id": customer_id, "limit": limit},
    )
    return [dict(r._mapping) for r in rows]


async def history_counts(session: AsyncSession) -> dict[str, int]:
    """Totals over every recorded contact, erased ones included (anonymised counts)."""
    row = await session.execute(
        text(
            "SELECT count(*) FILTER (WHERE inbound_event_id IS NOT NULL) AS contacts,"
            " count(*) FILTER (WHERE erased) AS erased,"
            " count(*) FILTER (WHERE inbound_event_id IS NULL) AS placeholders"
            " FROM profiles.contacts"
        )
    )
    return dict(row.one()._mapping)
