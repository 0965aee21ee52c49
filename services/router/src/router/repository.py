"""The router's storage: the port the handler and the admin API use, and its PostgreSQL
implementation (all SQL of the router; one round trip per call)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from router import SCHEMA
from switchboard_runtime.db import Claim, Delivery, claim_events, once_committed


class StoredDecision(NamedTuple):
    """A decision to store (a tuple: a frozen dataclass costs a microsecond per decision)."""

    decision_id: str
    contact_id: str
    queue_id: str
    channel: str
    policy_version: str
    decided_at: datetime
    event: str
    arrived_at: datetime
    """The decision's `arrived_at`: the contact's event time, not when it was decided."""


@dataclass(frozen=True, slots=True)
class ContactChange:
    """The net effect of a contact's lifecycle events in one batch."""

    contact_id: str
    status: str | None
    queue_id: str | None
    closed_at: datetime | None = None
    """The event time of the closing event when `status` closes the contact."""


class RoutingRepository(Protocol):
    """What the router reads and writes, inside the caller's transaction."""

    async def claim(self, claims: Sequence[Claim]) -> list[Delivery]:
        """Claim the batch's events in the processed-events ledger (see `claim_events`)."""
        ...

    async def open_load(self, since: datetime) -> dict[tuple[str, str], int]:
        """Open contacts per (queue, channel) opened after `since`, over every instance."""
        ...

    async def arrivals(self, since: datetime) -> dict[tuple[str, str], int]:
        """Contacts placed per (queue, channel) that arrived since `since` (their event time,
        not when the router decided them), open or not, every instance."""
        ...

    async def stored_decisions(self, decision_ids: Sequence[str]) -> dict[str, str]:
        """The events already produced for these decision ids."""
        ...

    async def write_batch(
        self, decisions: Sequence[StoredDecision], changes: Sequence[ContactChange]
    ) -> None:
        """Store decisions and open their contacts, then apply lifecycle changes.

        A contact already decided keeps its decision; a contact closed before its decision
        stays closed; a change to an unknown contact only records a closing one."""
        ...

    async def recent_decisions(self, contact_id: str, limit: int) -> list[str]:
        """The contact's stored decision events, newest first."""
        ...

    def after_commit(self, applied: Callable[[], None]) -> None:
        """Call `applied` once the caller's transaction commits, never if it rolls back
        (see `once_committed`): what a batch counts, it counts once however often tried."""
        ...


# Built once: building a `text()` parses it, on every batch otherwise.
# The counters of the hours after `since` (kept by triggers, migration 0016), and the open
# rows of the hour `since` falls in that opened after it: no scan of every open contact.
_OPEN_LOAD = text(
    "SELECT queue_id, channel, CAST(sum(n) AS bigint) FROM ("
    " SELECT queue_id, channel, open AS n FROM routing.open_load WHERE opened_hour > :since"
    " UNION ALL"
    " SELECT queue_id, coalesce(channel, ''), count(*) FROM routing.contacts"
    "  WHERE status = 'open' AND queue_id IS NOT NULL AND opened_at > :since"
    "  AND opened_at < date_trunc('hour', CAST(:since AS timestamptz), 'UTC') + interval '1 hour'"
    "  GROUP BY queue_id, coalesce(channel, '')) AS counted"
    " GROUP BY queue_id, channel HAVING sum(n) > 0"
)

_ARRIVALS = text(
    "SELECT queue_id, channel, count(*) FROM routing.contacts"
    " WHERE arrived_at > :since AND queue_id IS NOT NULL"
    " GROUP BY queue_id, channel"
)

_STORED_DECISIONS = text(
    "SELECT decision_id, event FROM routing.decisions WHERE decision_id = ANY(CAST(:ids AS text[]))"
)

_SAVE_DECISIONS = text(
    "WITH stored AS (INSERT INTO routing.decisions"
    " (decision_id, contact_id, queue_id, policy_version, decided_at, event)"
    " SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:contacts AS text[]),"
    " CAST(:queues AS text[]), CAST(:versions AS text[]),"
    " CAST(:times AS timestamptz[]), CAST(:events AS text[]))"
    " ON CONFLICT (decision_id) DO NOTHING)"
    " INSERT INTO routing.contacts"
    " (contact_id, queue_id, channel, status, decision_id, opened_at, updated_at,"
    "  arrived_at)"
    " SELECT c, q, ch, 'open', d, t, t, a FROM unnest(CAST(:open_contacts AS text[]),"
    " CAST(:open_queues AS text[]), CAST(:channels AS text[]),"
    " CAST(:open_ids AS text[]), CAST(:open_times AS timestamptz[]),"
    " CAST(:arrivals AS timestamptz[])) AS u(c, q, ch, d, t, a)"
    " ON CONFLICT (contact_id) DO UPDATE SET"
    "  queue_id = COALESCE(routing.contacts.queue_id, EXCLUDED.queue_id),"
    "  channel = EXCLUDED.channel, decision_id = EXCLUDED.decision_id,"
    "  opened_at = EXCLUDED.opened_at, updated_at = EXCLUDED.updated_at,"
    "  arrived_at = EXCLUDED.arrived_at"
    " WHERE routing.contacts.decision_id IS NULL"
)

_APPLY_LIFECYCLE = text(
    "WITH u AS (SELECT * FROM unnest(CAST(:contacts AS text[]), CAST(:statuses AS text[]),"
    "  CAST(:queues AS text[]), CAST(:closed AS timestamptz[])) AS u(c, s, q, closed)),"
    # A status change sets closed_at (a reopening clears it); a move keeps it.
    " moved AS (UPDATE routing.contacts AS t SET status = COALESCE(u.s, t.status),"
    "  queue_id = COALESCE(u.q, t.queue_id), updated_at = now(),"
    "  closed_at = CASE WHEN u.s IS NULL THEN t.closed_at ELSE u.closed END"
    "  FROM u WHERE t.contact_id = u.c RETURNING t.contact_id)"
    " INSERT INTO routing.contacts (contact_id, queue_id, status, closed_at)"
    " SELECT u.c, u.q, u.s, u.closed FROM u"
    " WHERE u.s IN ('resolved', 'abandoned') AND u.c NOT IN (SELECT contact_id FROM moved)"
    " ON CONFLICT (contact_id) DO UPDATE SET status = EXCLUDED.status,"
    "  closed_at = EXCLUDED.closed_at, updated_at = now()"
)


class PostgresRoutingRepository:
    """`RoutingRepository` on the `routing` schema, in the session's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim(self, claims: Sequence[Claim]) -> list[Delivery]:
        return await claim_events(self.session, SCHEMA, claims)

    def after_commit(self, applied: Callable[[], None]) -> None:
        once_committed(self.session, applied)

    async def open_load(self, since: datetime) -> dict[tuple[str, str], int]:
        rows = await self.session.execute(_OPEN_LOAD, {"since": since})
        return {(queue, channel): count for queue, channel, count in rows}

    async def arrivals(self, since: datetime) -> dict[tuple[str, str], int]:
        rows = await self.session.execute(_ARRIVALS, {"since": since})
        return {(queue, channel or ""): int(n) for queue, channel, n in rows}

    async def stored_decisions(self, decision_ids: Sequence[str]) -> dict[str, str]:
        if not decision_ids:
            return {}
        rows = await self.session.execute(_STORED_DECISIONS, {"ids": list(decision_ids)})
        return {row[0]: row[1] for row in rows}

    async def write_batch(
        self, decisions: Sequence[StoredDecision], changes: Sequence[ContactChange]
    ) -> None:
        """No savepoint of its own (two round trips on every batch).

        Instances lock contact rows in contact-id order, but a decision and a lifecycle event of
        the same contact can still meet in two instances' batches in the opposite order; the
        database then aborts one transaction with a deadlock, which the runner retries whole
        as the transient failure it is.
        """
        await self._save_decisions(decisions)
        await self._apply_lifecycle(changes)

    async def _save_decisions(self, decisions: Sequence[StoredDecision]) -> None:
        """Store the decisions and open their contacts (a contact closed already stays closed),
        in one statement: the two inserts touch different tables and read nothing of each
        other's rows."""
        if not decisions:
            return
        # One row per contact: a later decision of the same batch wins.
        latest = sorted({d.contact_id: d for d in decisions}.values(), key=lambda d: d.contact_id)
        await self.session.execute(
            _SAVE_DECISIONS,
            {
                "ids": [d.decision_id for d in decisions],
                "contacts": [d.contact_id for d in decisions],
                "queues": [d.queue_id for d in decisions],
                "versions": [d.policy_version for d in decisions],
                "times": [d.decided_at for d in decisions],
                "events": [d.event for d in decisions],
                "open_contacts": [d.contact_id for d in latest],
                "open_queues": [d.queue_id for d in latest],
                "channels": [d.channel for d in latest],
                "open_ids": [d.decision_id for d in latest],
                "open_times": [d.decided_at for d in latest],
                "arrivals": [d.arrived_at for d in latest],
            },
        )

    async def _apply_lifecycle(self, changes: Sequence[ContactChange]) -> None:
        """Close, reopen or move contacts. A contact closed before its decision is recorded closed,
        so the decision arriving later does not count it as load."""
        if not changes:
            return
        changes = sorted(changes, key=lambda c: c.contact_id)
        await self.session.execute(
            _APPLY_LIFECYCLE,
            {
                "contacts": [c.contact_id for c in changes],
                "statuses": [c.status for c in changes],
                "queues": [c.queue_id for c in changes],
                "closed": [c.closed_at for c in changes],
            },
        )

    async def recent_decisions(self, contact_id: str, limit: int) -> list[str]:
        rows = await self.session.execute(
            text(
                "SELECT event FROM routing.decisions WHERE contact_id = :contact"
                " ORDER BY decided_at DESC LIMIT :limit"
            ),
            {"contact": contact_id, "limit": limit},
        )
        return [event for (event,) in rows]


class RecordedTraffic:
    """The recorded contacts of a period, for the what-if replay (read only)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def recorded(
        self, since: datetime, until: datetime, limit: int
    ) -> AsyncIterator[tuple[str, str, datetime | None]]:
        """(decision event, status, event time of its closing or None) of the contacts
        that arrived in [since, until), in order of arrival, at most `limit`, streamed.

        By arrival (event time), not `opened_at` (when the router decided): a backlog
        decided late belongs to the period it arrived in."""
        rows = await self.session.stream(
            text(
                "SELECT d.event, c.status, c.closed_at"
                " FROM routing.contacts AS c"
                " JOIN routing.decisions AS d ON d.decision_id = c.decision_id"
                " WHERE c.arrived_at >= :since AND c.arrived_at < :until"
                " ORDER BY c.arrived_at, c.contact_id LIMIT :limit"
            ),
            {"since": since, "until": until, "limit": limit},
        )
        async for event, status, closed_at in rows:
            yield event, status, closed_at
