"""The audit trail's SQL (`profiles.audit_log`, append-only, and `profiles.audit_outbox`).

`insert_audit` runs inside the transaction of the action it records (the customers
repository calls it), so the record and its outbox row commit with the action or not
at all. `PostgresAudit` reads the trail for the admin route and works the outbox for
the publisher.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard_runtime.audit import AuditEntry, AuditRecord

_COLUMNS = "audit_id, at, actor, action, customer_ids, outcome"


async def insert_audit(session: AsyncSession, entries: Sequence[AuditEntry]) -> None:
    """Append the records and queue each for publishing, in the caller's transaction."""
    if not entries:
        return
    await session.execute(
        text(
            "WITH added AS (INSERT INTO profiles.audit_log"
            " (at, actor, action, customer_ids, outcome)"
            " SELECT e.at, e.actor, e.action,"
            " ARRAY(SELECT jsonb_array_elements_text(e.ids)), e.outcome"
            " FROM jsonb_to_recordset(CAST(:entries AS jsonb))"
            " AS e(at timestamptz, actor text, action text, ids jsonb, outcome text)"
            " RETURNING audit_id)"
            " INSERT INTO profiles.audit_outbox (audit_id) SELECT audit_id FROM added"
        ),
        {"entries": _json(entries)},
    )


def _json(entries: Sequence[AuditEntry]) -> str:
    return json.dumps(
        [
            {
                "at": e.at.isoformat(),
                "actor": e.actor,
                "action": e.action.value,
                "ids": list(e.customer_ids),
                "outcome": e.outcome.value,
            }
            for e in entries
        ]
    )


@dataclass(frozen=True)
class AuditFilter:
    customer_id: str | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before_id: int | None = None
    """Keyset position: only records older than this id (the previous page's last)."""


class PostgresAudit:
    """The trail as the admin route and the publisher read it, on one session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def records(self, where: AuditFilter, limit: int) -> list[AuditRecord]:
        """Matching records, newest first."""
        rows = await self._session.execute(
            text(
                f"SELECT {_COLUMNS} FROM profiles.audit_log WHERE"
                " (CAST(:customer AS text) IS NULL OR customer_ids @> ARRAY[CAST(:customer AS text)])"
                " AND (CAST(:actor AS text) IS NULL OR actor = :actor)"
                " AND (CAST(:since AS timestamptz) IS NULL OR at >= :since)"
                " AND (CAST(:until AS timestamptz) IS NULL OR at < :until)"
                " AND (CAST(:before AS bigint) IS NULL OR audit_id < :before)"
                " ORDER BY audit_id DESC LIMIT :limit"
            ),
            {
                "customer": where.customer_id,
                "actor": where.actor,
                "since": where.since,
                "until": where.until,
                "before": where.before_id,
                "limit": limit,
            },
        )
        return [_record(r) for r in rows]

    async def claim_unpublished(self, limit: int) -> list[AuditRecord]:
        """The oldest records not yet published, locked until the transaction ends
        (another instance skips them rather than publishing them twice)."""
        rows = await self._session.execute(
            text(
                f"SELECT {', '.join('l.' + c for c in _COLUMNS.split(', '))}"
                " FROM profiles.audit_outbox o JOIN profiles.audit_log l USING (audit_id)"
                " ORDER BY o.audit_id LIMIT :limit FOR UPDATE OF o SKIP LOCKED"
            ),
            {"limit": limit},
        )
        return [_record(r) for r in rows]

    async def mark_published(self, audit_ids: Sequence[int]) -> None:
        await self._session.execute(
            text("DELETE FROM profiles.audit_outbox WHERE audit_id = ANY(CAST(:ids AS bigint[]))"),
            {"ids": list(audit_ids)},
        )


def _record(row: Row[tuple[object, ...]]) -> AuditRecord:
    return AuditRecord.model_validate(dict(row._mapping))
