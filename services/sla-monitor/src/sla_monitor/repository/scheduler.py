"""The scheduler's side of sla-monitor's SQL: due timers behind the watermark gate, the outbox.

`AlertStore` is what `scheduler.Scheduler` needs; `PgAlertStore` its PostgreSQL
implementation. Tables: `sla.due_alerts`, `sla.watermarks`, `sla.alerts` (the outbox of
fired alerts, one row per alert key).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from sla_monitor.domain.clock import PendingAlert
from sla_monitor.repository.rows import FiredAlert, pending_from
from switchboard_calendars import instant

# Each statement is built once: `text()` parses its SQL on every call.
_RECORD_FIRED = text(
    """
        INSERT INTO sla.alerts (contact_id, target, kind, cycle, level, alert_id, queue_id,
            channel, due_at, fired_at, payload, team)
        SELECT * FROM unnest(CAST(:contacts AS text[]), CAST(:targets AS text[]),
            CAST(:kinds AS text[]), CAST(:cycles AS int[]), CAST(:levels AS int[]),
            CAST(:ids AS text[]),
            CAST(:queues AS text[]), CAST(:channels AS text[]), CAST(:due AS timestamptz[]),
            CAST(:fired AS timestamptz[]), CAST(:payloads AS bytea[]),
            CAST(:teams AS text[]))
        ON CONFLICT DO NOTHING
        RETURNING alert_id
        """
)
_MARK_PUBLISHED = text(
    "UPDATE sla.alerts SET published_at = :at"
    " WHERE alert_id = ANY(CAST(:ids AS text[])) AND published_at IS NULL"
)
_CLAIM_UNPUBLISHED = text(
    "SELECT alert_id, contact_id, payload FROM sla.alerts"
    " WHERE published_at IS NULL AND fired_at <= :older_than"
    " ORDER BY fired_at LIMIT :limit FOR UPDATE SKIP LOCKED"
)
_NEXT_DUE = text("SELECT min(due_at) FROM sla.due_alerts WHERE due_at > :after")


class AlertStore(Protocol):
    """Due timers and fired alerts, within the caller's transaction."""

    async def claim_due(
        self, now: datetime, limit: int, topics: Sequence[str]
    ) -> list[PendingAlert]:
        """Take up to `limit` timers due by `now` that the watermark gate lets through, oldest first."""
        ...

    async def held_back(self, now: datetime, topics: Sequence[str]) -> int:
        """Timers due by `now` that the watermark gate still holds (the monitor is behind)."""
        ...

    async def record_fired(self, fired: Sequence[FiredAlert]) -> set[str]:
        """Claim each alert's unique key; the ids returned are the ones claimed now (to publish)."""
        ...

    async def mark_published(self, alert_ids: Sequence[str], at: datetime) -> None: ...

    async def claim_unpublished(
        self, older_than: datetime, limit: int
    ) -> list[tuple[str, str, bytes]]:
        """Alerts recorded but not acknowledged: (alert_id, contact_id, payload), locked."""
        ...

    async def next_due(self, after: datetime) -> datetime | None:
        """The first timer due after `after`."""
        ...


# The instant up to which both topics of a partition are read; a timer without a
# partition (written before watermarks existed) waits for every partition.
_GATE = """
    WITH w AS (
        SELECT partition, min(consumed_until) AS until FROM sla.watermarks
        WHERE topic = ANY(CAST(:topics AS text[])) GROUP BY partition
        HAVING count(*) = cardinality(CAST(:topics AS text[]))
    )
"""

# A timer `t` joined to its partition's `w`: the gate lets it through.
_PASSES = """t.due_at <= CASE
    WHEN t.partition IS NULL THEN (SELECT min(until) FROM w) ELSE w.until END"""

_CLAIM_DUE = text(
    _GATE
    + """
    DELETE FROM sla.due_alerts d USING (
        SELECT t.contact_id, t.target, t.kind, t.cycle, t.level, t.team
        FROM sla.due_alerts t
        LEFT JOIN w ON w.partition = t.partition
        WHERE t.due_at <= :now AND """
    + _PASSES
    + """
        ORDER BY t.due_at LIMIT :limit FOR UPDATE OF t SKIP LOCKED
    ) AS due
    WHERE d.contact_id = due.contact_id AND d.target = due.target
        AND d.kind = due.kind AND d.cycle = due.cycle AND d.level = due.level
        AND d.team = due.team
    RETURNING d.contact_id, d.target, d.kind, d.cycle, d.level, d.team, d.due_at,
        d.alert
    """
)

_HELD_BACK = text(
    _GATE
    + """
    SELECT count(*) FROM sla.due_alerts t LEFT JOIN w ON w.partition = t.partition
    WHERE t.due_at <= :now AND NOT coalesce("""
    + _PASSES
    + """, false)
    """
)


class PgAlertStore:
    """`AlertStore` on PostgreSQL, in the caller's session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def claim_due(
        self, now: datetime, limit: int, topics: Sequence[str]
    ) -> list[PendingAlert]:
        """Take (delete, locked until commit) up to `limit` timers due by `now`, oldest first.

        Only timers whose contact's partition is read past their due time on every one of
        `topics` (the watermark gate): an alert never fires while a step that could stop it
        may still be unread. SKIP LOCKED: timers another instance is claiming, or a consumer
        is cancelling, are left to them.
        """
        result = await self._session.execute(
            _CLAIM_DUE, {"now": now, "limit": limit, "topics": list(topics)}
        )
        rows = sorted(result, key=lambda r: (r.due_at, r.contact_id))
        return [pending_from(r) for r in rows]

    async def held_back(self, now: datetime, topics: Sequence[str]) -> int:
        """Timers due by `now` that the watermark gate still holds (the monitor is behind)."""
        found = await self._session.scalar(_HELD_BACK, {"now": now, "topics": list(topics)})
        return int(found or 0)

    async def record_fired(self, fired: Sequence[FiredAlert]) -> set[str]:
        """Claim each alert's unique key; the ids returned are the ones claimed now (to publish)."""
        if not fired:
            return set()
        result = await self._session.execute(
            _RECORD_FIRED,
            {
                "contacts": [f.pending.contact_id for f in fired],
                "targets": [f.pending.target.value for f in fired],
                "kinds": [f.pending.kind.value for f in fired],
                "cycles": [f.pending.cycle for f in fired],
                "levels": [f.pending.level for f in fired],
                "ids": [f.alert_id for f in fired],
                "queues": [f.pending.queue.id for f in fired],
                "channels": [f.pending.channel.value for f in fired],
                "due": [instant(f.pending.fire_at) for f in fired],
                "fired": [f.fired_at for f in fired],
                "payloads": [f.payload for f in fired],
                "teams": [f.pending.team or "" for f in fired],
            },
        )
        return {row[0] for row in result}

    async def mark_published(self, alert_ids: Sequence[str], at: datetime) -> None:
        if alert_ids:
            await self._session.execute(
                _MARK_PUBLISHED,
                {"ids": list(alert_ids), "at": at},
            )

    async def claim_unpublished(
        self, older_than: datetime, limit: int
    ) -> list[tuple[str, str, bytes]]:
        """Alerts recorded but not acknowledged (a crash between commit and ack), locked.

        Returns (alert_id, contact_id, payload); the lock is held until the caller has
        re-published and marked them, so two instances do not both re-publish.
        """
        result = await self._session.execute(
            _CLAIM_UNPUBLISHED,
            {"older_than": older_than, "limit": limit},
        )
        return [(r.alert_id, r.contact_id, bytes(r.payload)) for r in result]

    async def next_due(self, after: datetime) -> datetime | None:
        """The first timer due after `after` (those due already wait for claims or watermarks)."""
        value = await self._session.scalar(_NEXT_DUE, {"after": after})
        return value if isinstance(value, datetime) else None
