"""The consumer's SQL (schema `profiles`): the ledger, lifecycle changes, lookups, history.

`EnrichmentRepository` is the port the enricher needs; `PostgresEnrichment` implements it
on the session of the runner's transaction (tests/profiles_fakes.py holds the in-memory one).
Every method takes a whole batch and makes one round trip (`= ANY(...)`, `unnest(...)`),
never one per event.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from profile_lookup.config import SCHEMA
from profile_lookup.domain.history import HistoryRules, LifecycleChange, Prior
from switchboard_runtime.db import Claim, Delivery, claim_events, once_committed

PROFILE_COLUMNS = (
    "tier",
    "segment",
    "display_name",
    "language",
    "region",
    "timezone",
    "lifetime_value",
    "contract_id",
)


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


@dataclass(frozen=True, slots=True)
class Found:
    """Customers matching a batch's identities and external references, with profiles."""

    by_identity: dict[tuple[str, str], set[str]]
    by_external_ref: dict[str, str]
    profiles: dict[str, dict[str, Any]]


class NewContact(NamedTuple):
    """A contact to record (a tuple: one is built per contact, and a frozen dataclass
    costs a microsecond each)."""

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


class EnrichmentRepository(Protocol):
    """What the enricher reads and writes, inside the batch's one transaction."""

    async def claim(self, claims: Sequence[Claim]) -> list[Delivery]:
        """Each record: NEW (first claim of its event), REDELIVERED (the claiming record
        again) or COPY (another record of a claimed event, in this batch or before)."""
        ...

    async def apply_lifecycle(self, changes: Sequence[LifecycleChange]) -> int:
        """At most one change per contact (as `fold` makes them); the newest wins per field
        group; a contact not recorded yet gets a placeholder. Returns the rows written."""
        ...

    async def stored_contacts(
        self, event_ids: Sequence[str], contact_ids: Sequence[str]
    ) -> list[StoredContact]: ...

    async def find_customers(
        self, identities: Iterable[tuple[str, str]], refs: Iterable[str]
    ) -> Found:
        """Customers (not merged away) holding each identity; the survivor of each CRM id."""
        ...

    async def prior_history(
        self, queries: Sequence[tuple[str, datetime, str]], rules: HistoryRules
    ) -> list[Prior]:
        """Per (customer id, moment, contact type): the recorded contacts before it."""
        ...

    async def record_contacts(self, contacts: Sequence[NewContact]) -> int:
        """New contacts, filling in placeholders; a recorded contact is left as it is."""
        ...

    def after_commit(self, applied: Callable[[], None]) -> None:
        """Call `applied` once the batch's transaction commits, never if it rolls back
        (see `once_committed`): what a batch counts, it counts once however often tried."""
        ...


# Built once: building a `text()` parses it, on every batch otherwise.
_NEWER_STATUS = (
    "EXCLUDED.status_at IS NOT NULL AND (c.status_at IS NULL OR EXCLUDED.status_at >= c.status_at)"
)
_NEWER_CSAT = (
    "EXCLUDED.csat_at IS NOT NULL AND (c.csat_at IS NULL OR EXCLUDED.csat_at >= c.csat_at)"
)
_PROFILE = ", ".join(f"c.{col}" for col in PROFILE_COLUMNS)
_APPLY_LIFECYCLE = text(
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
        status = CASE WHEN {_NEWER_STATUS} THEN EXCLUDED.status ELSE c.status END,
        closed_at = CASE WHEN {_NEWER_STATUS} THEN EXCLUDED.closed_at ELSE c.closed_at END,
        status_at = CASE WHEN {_NEWER_STATUS} THEN EXCLUDED.status_at ELSE c.status_at END,
        csat = CASE WHEN {_NEWER_CSAT} THEN EXCLUDED.csat ELSE c.csat END,
        csat_at = CASE WHEN {_NEWER_CSAT} THEN EXCLUDED.csat_at ELSE c.csat_at END,
        updated_at = now()
    """
)

_STORED_CONTACTS = text(
    "SELECT contact_id, inbound_event_id, inbound_source, status, csat, csat_at,"
    " enriched_key, enriched"
    " FROM profiles.contacts"
    " WHERE inbound_event_id = ANY(CAST(:events AS text[]))"
    " OR contact_id = ANY(CAST(:contacts AS text[]))"
)

_FIND_CUSTOMERS = text(
    f"""
    SELECT i.kind, i.value, c.customer_id, {_PROFILE}
    FROM unnest(CAST(:kinds AS text[]), CAST(:values AS text[])) AS q(kind, value)
    JOIN profiles.identities i ON i.kind = q.kind AND i.value = q.value
    JOIN profiles.customers c ON c.customer_id = i.customer_id
    WHERE c.merged_into IS NULL
    UNION ALL
    SELECT 'external_ref', q.ref, c.customer_id, {_PROFILE}
    FROM unnest(CAST(:refs AS text[])) AS q(ref)
    JOIN profiles.customers s ON s.external_ref = q.ref
    JOIN profiles.customers c ON c.customer_id = coalesce(s.merged_into, s.customer_id)
    """
)

_PRIOR_HISTORY = text(
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
)

_RECORD_CONTACTS = text(
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
)


class PostgresEnrichment:
    """`EnrichmentRepository` on one session; runs inside the caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def claim(self, claims: Sequence[Claim]) -> list[Delivery]:
        """Record the events as processed; returns what each record is, in order."""
        return await claim_events(self._session, SCHEMA, claims)

    def after_commit(self, applied: Callable[[], None]) -> None:
        once_committed(self._session, applied)

    async def apply_lifecycle(self, changes: Sequence[LifecycleChange]) -> int:
        """Apply lifecycle changes; a contact not yet recorded gets a placeholder row.

        The newest event wins per field group (status, satisfaction), whatever the order
        in which events arrive, so a late or repeated event changes nothing.
        """
        if not changes:
            return 0
        result = await self._session.execute(
            _APPLY_LIFECYCLE,
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

    async def stored_contacts(
        self, event_ids: Sequence[str], contact_ids: Sequence[str]
    ) -> list[StoredContact]:
        """Rows of inbound events with these ids (of any source) or of these contacts
        (recorded or placeholders)."""
        if not event_ids and not contact_ids:
            return []
        rows = await self._session.execute(
            _STORED_CONTACTS,
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

    async def find_customers(
        self, identities: Iterable[tuple[str, str]], refs: Iterable[str]
    ) -> Found:
        """One query for every identity and CRM id of a batch. Merged CRM ids resolve to the
        customer they were merged into."""
        pairs = sorted(set(identities))
        wanted_refs = sorted(set(refs))
        found = Found({}, {}, {})
        if not pairs and not wanted_refs:
            return found
        rows = await self._session.execute(
            _FIND_CUSTOMERS,
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
        self,
        queries: Sequence[tuple[str, datetime, str]],
        rules: HistoryRules,
    ) -> list[Prior]:
        """For each (customer id, moment, contact type): the recorded history before it, within
        the lookback (one index range scan per entry, aggregated in the database)."""
        if not queries:
            return []
        rows = await self._session.execute(
            _PRIOR_HISTORY,
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

    async def record_contacts(self, contacts: Sequence[NewContact]) -> int:
        """Record new contacts (filling in placeholders left by early lifecycle events)."""
        if not contacts:
            return 0
        result = await self._session.execute(
            _RECORD_CONTACTS,
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
