"""The consumer's side of sla-monitor's SQL: contacts, lifecycle steps, timers, watermarks.

What the handler (`service.SlaHandler`), the re-plan after a policy change and the
watermark hook need, as one port (`ClockStore`) on the runner's transaction. One round
trip per table per batch: arrays in, `unnest` inside. Tables: `sla.contacts`,
`sla.lifecycle`, `sla.due_alerts` (schema in migrations/), `sla.processed_events`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from sla_monitor.config import SCHEMA
from sla_monitor.domain.clock import ContactClocks, Decision, PendingAlert, Step, outcome
from sla_monitor.repository.rows import (
    DecisionRow,
    StepRow,
    decision_from,
    maybe_instant,
    pending_json,
    steps_by_contact,
)
from switchboard_calendars import instant
from switchboard_runtime.db import Claim, Delivery, claim_events

# Each statement is built once: `text()` parses its SQL on every call.
_UPSERT_CONTACTS = text(
    """
        INSERT INTO sla.contacts AS c (contact_id, decision_id, decided_at, queue_id,
            queue_kind, vendor, priority, priority_label, channel, tier, arrived_at,
            contract_id)
        SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:decision_ids AS text[]),
            CAST(:decided_at AS timestamptz[]), CAST(:queue_ids AS text[]),
            CAST(:kinds AS text[]), CAST(:vendors AS text[]), CAST(:priorities AS int[]),
            CAST(:labels AS text[]), CAST(:channels AS text[]), CAST(:tiers AS text[]),
            CAST(:arrived AS timestamptz[]), CAST(:contracts AS text[]))
        ORDER BY 1
        ON CONFLICT (contact_id) DO UPDATE SET
            decision_id = CASE WHEN n.newer THEN excluded.decision_id ELSE c.decision_id END,
            decided_at = CASE WHEN n.newer THEN excluded.decided_at ELSE c.decided_at END,
            queue_id = CASE WHEN n.newer THEN excluded.queue_id ELSE c.queue_id END,
            queue_kind = CASE WHEN n.newer THEN excluded.queue_kind ELSE c.queue_kind END,
            vendor = CASE WHEN n.newer THEN excluded.vendor ELSE c.vendor END,
            priority = CASE WHEN n.newer THEN excluded.priority ELSE c.priority END,
            priority_label = CASE WHEN n.newer THEN excluded.priority_label ELSE c.priority_label END,
            channel = CASE WHEN n.newer THEN excluded.channel ELSE c.channel END,
            tier = CASE WHEN n.newer THEN excluded.tier ELSE c.tier END,
            arrived_at = CASE WHEN n.newer THEN excluded.arrived_at ELSE c.arrived_at END,
            contract_id = CASE WHEN n.newer THEN excluded.contract_id ELSE c.contract_id END,
            updated_at = now()
        RETURNING c.contact_id, c.decision_id, c.queue_id, c.queue_kind, c.vendor, c.priority,
            c.priority_label, c.channel, c.tier, c.arrived_at, c.contract_id
        """.replace(
        "n.newer",
        "(excluded.decided_at IS NOT NULL"
        " AND (c.decided_at IS NULL OR excluded.decided_at > c.decided_at))",
    )
)
_INSERT_STEPS = text(
    """
        WITH new AS (
            INSERT INTO sla.lifecycle (event_id, contact_id, kind, at, to_queue_id)
            SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:contacts AS text[]),
                CAST(:kinds AS text[]), CAST(:ats AS timestamptz[]),
                CAST(:to_queues AS text[]))
            RETURNING contact_id, kind, at, seq, to_queue_id
        )
        SELECT contact_id, kind, at, seq, to_queue_id FROM sla.lifecycle
        WHERE contact_id = ANY(CAST(:load AS text[]))
        UNION ALL
        SELECT * FROM new WHERE contact_id = ANY(CAST(:load AS text[]))
        """
)
_LOCK_STALE_OPEN = text(
    "SELECT contact_id, decision_id, queue_id, queue_kind, vendor, priority,"
    " priority_label, channel, tier, arrived_at, contract_id FROM sla.contacts"
    " WHERE status = 'open' AND decision_id IS NOT NULL"
    " AND policy_version IS DISTINCT FROM :version"
    " ORDER BY contact_id LIMIT :limit FOR UPDATE"
)
_LOAD_STEPS = text(
    "SELECT contact_id, kind, at, seq, to_queue_id FROM sla.lifecycle"
    " WHERE contact_id = ANY(CAST(:ids AS text[]))"
)
_TIMER_PARTITIONS = text(
    "SELECT DISTINCT ON (contact_id) contact_id, partition FROM sla.due_alerts"
    " WHERE contact_id = ANY(CAST(:ids AS text[])) AND partition IS NOT NULL"
)
_DELETE_DUE_ALERTS = text("DELETE FROM sla.due_alerts WHERE contact_id = ANY(CAST(:ids AS text[]))")
_INSERT_DUE_ALERTS = text(
    """
        INSERT INTO sla.due_alerts (contact_id, target, kind, cycle, level, due_at, alert,
            partition, team)
        SELECT n.* FROM (
            SELECT t->>0, t->>1, t->>2, CAST(t->>3 AS int), CAST(t->>4 AS int), d.due_at,
                t->7, CAST(t->>5 AS int), t->>6
            FROM jsonb_array_elements(CAST(:timers AS jsonb)) WITH ORDINALITY AS j(t, i)
            JOIN unnest(CAST(:due AS timestamptz[])) WITH ORDINALITY AS d(due_at, i)
                USING (i)
        ) AS n(contact_id, target, kind, cycle, level, due_at, alert, partition, team)
        WHERE NOT EXISTS (
            SELECT 1 FROM sla.alerts a WHERE a.contact_id = n.contact_id
            AND a.target = n.target AND a.kind = n.kind AND a.cycle = n.cycle
            AND a.level = n.level AND a.team = n.team)
        """
)
_UPDATE_SUMMARIES = text(
    """
        UPDATE sla.contacts c SET status = n.status, fr_state = n.fr_state,
            fr_due_at = n.fr_due_at, fr_at = n.fr_at, fr_elapsed_s = n.fr_elapsed_s,
            resolved_at = n.resolved_at, abandoned_at = n.abandoned_at,
            policy_version = n.version, updated_at = now()
        FROM unnest(CAST(:ids AS text[]), CAST(:status AS text[]), CAST(:fr_state AS text[]),
            CAST(:fr_due AS timestamptz[]), CAST(:fr_at AS timestamptz[]),
            CAST(:fr_elapsed AS float8[]), CAST(:resolved AS timestamptz[]),
            CAST(:abandoned AS timestamptz[]), CAST(:versions AS text[]))
            AS n(contact_id, status, fr_state, fr_due_at, fr_at, fr_elapsed_s, resolved_at,
                 abandoned_at, version)
        WHERE c.contact_id = n.contact_id
        """
)
_REPLACE_OLA_CLOCKS = text(
    """
        WITH n AS (
            SELECT * FROM unnest(CAST(:contacts AS text[]), CAST(:teams AS text[]),
                CAST(:cycles AS int[]), CAST(:queues AS text[]),
                CAST(:started AS timestamptz[]), CAST(:states AS text[]),
                CAST(:due AS timestamptz[]))
                AS n(contact_id, team, cycle, queue_id, started_at, state, due_at)
        ),
        gone AS (
            DELETE FROM sla.ola_clocks o WHERE o.contact_id = ANY(CAST(:ids AS text[]))
            AND NOT EXISTS (SELECT 1 FROM n WHERE n.contact_id = o.contact_id
                AND n.team = o.team AND n.cycle = o.cycle)
        )
        INSERT INTO sla.ola_clocks SELECT * FROM n ORDER BY 1, 2, 3
        ON CONFLICT (contact_id, team, cycle) DO UPDATE SET queue_id = excluded.queue_id,
            started_at = excluded.started_at, state = excluded.state,
            due_at = excluded.due_at
        """
)
_RECORD_WATERMARKS = text(
    """
        INSERT INTO sla.watermarks AS w (topic, partition, consumed_until)
        SELECT * FROM unnest(CAST(:topics AS text[]), CAST(:partitions AS int[]),
            CAST(:until AS timestamptz[]))
        ORDER BY 1, 2
        ON CONFLICT (topic, partition) DO UPDATE SET
            consumed_until = GREATEST(w.consumed_until, excluded.consumed_until),
            updated_at = now()
        """
)


class ClockStore(Protocol):
    """The clocks' state, within one transaction."""

    async def claim(self, claims: Sequence[Claim]) -> list[Delivery]:
        """Record the events as processed; what each one is (only NEW ones apply)."""
        ...

    async def upsert_contacts(
        self, contact_ids: Sequence[str], decisions: Sequence[DecisionRow]
    ) -> dict[str, Decision]:
        """Make a row for every contact touched (locking them in id order); keep the newest decision.

        Returns the decision each touched contact now has (contacts still without one left out).
        """
        ...

    async def insert_steps(
        self, steps: Sequence[StepRow], load_for: Sequence[str]
    ) -> dict[str, list[Step]]:
        """Store `steps`; return every step (old and new) of the contacts in `load_for`."""
        ...

    async def lock_stale_open(self, version: str, limit: int) -> list[Decision]:
        """Up to `limit` open contacts last planned with another policy version, locked, by id."""
        ...

    async def load_steps(self, contact_ids: Sequence[str]) -> dict[str, list[Step]]:
        """Every lifecycle step of the contacts given."""
        ...

    async def timer_partitions(self, contact_ids: Sequence[str]) -> dict[str, int]:
        """The partition each contact's timers are gated by, for contacts that have timers."""
        ...

    async def replace_due_alerts(
        self,
        contact_ids: Sequence[str],
        pending: Sequence[PendingAlert],
        partitions: Mapping[str, int | None],
    ) -> int:
        """Cancel the contacts' timers and schedule `pending` instead, except alerts already fired."""
        ...

    async def update_summaries(self, states: Iterable[ContactClocks]) -> None:
        """The columns the live service level reads: status and how the first response went."""
        ...

    async def record_watermarks(self, consumed: Sequence[tuple[str, int, datetime]]) -> None:
        """Move each (topic, partition)'s watermark up to the instant given; never back."""
        ...


class PgClockStore:
    """`ClockStore` on PostgreSQL, in the caller's session and transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def claim(self, claims: Sequence[Claim]) -> list[Delivery]:
        return await claim_events(self._session, SCHEMA, claims)

    async def upsert_contacts(
        self, contact_ids: Sequence[str], decisions: Sequence[DecisionRow]
    ) -> dict[str, Decision]:
        """Make a row for every contact touched (locking them in id order); keep the newest decision.

        Returns the decision each touched contact now has (contacts still without one left out).
        """
        by_contact = {row.decision.contact_id: row for row in decisions}
        ids = sorted(set(contact_ids) | set(by_contact))
        rows = [by_contact.get(cid) for cid in ids]

        def column(get: Any) -> list[Any]:
            return [None if row is None else get(row) for row in rows]

        result = await self._session.execute(
            _UPSERT_CONTACTS,
            {
                "ids": ids,
                "decision_ids": column(lambda r: r.decision_id),
                "decided_at": column(lambda r: r.decided_at),
                "queue_ids": column(lambda r: r.decision.queue.id),
                "kinds": column(lambda r: r.decision.queue.kind.value),
                "vendors": column(lambda r: r.decision.queue.vendor),
                "priorities": column(lambda r: r.decision.priority),
                "labels": column(lambda r: r.decision.priority_label),
                "channels": column(lambda r: r.decision.channel.value),
                "tiers": column(lambda r: r.decision.tier),
                "arrived": column(lambda r: instant(r.decision.arrived_at)),
                "contracts": column(lambda r: r.decision.contract_id),
            },
        )
        return {row.contact_id: decision_from(row) for row in result if row.decision_id is not None}

    async def insert_steps(
        self, steps: Sequence[StepRow], load_for: Sequence[str]
    ) -> dict[str, list[Step]]:
        """Store `steps`; return every step (old and new) of the contacts in `load_for`."""
        result = await self._session.execute(
            _INSERT_STEPS,
            {
                "ids": [s.event_id for s in steps],
                "contacts": [s.contact_id for s in steps],
                "kinds": [s.kind for s in steps],
                "ats": [s.at for s in steps],
                "to_queues": [s.to_queue_id for s in steps],
                "load": list(load_for),
            },
        )
        return steps_by_contact(result)

    async def lock_stale_open(self, version: str, limit: int) -> list[Decision]:
        """Up to `limit` open contacts last planned with another policy version, locked, by id.

        Not SKIP LOCKED: a consumer batch holding one is waited for, and the row checked
        again once it commits (it may have been planned with `version` meanwhile).
        """
        result = await self._session.execute(
            _LOCK_STALE_OPEN,
            {"version": version, "limit": limit},
        )
        return [decision_from(row) for row in result]

    async def load_steps(self, contact_ids: Sequence[str]) -> dict[str, list[Step]]:
        """Every lifecycle step of the contacts given."""
        result = await self._session.execute(
            _LOAD_STEPS,
            {"ids": list(contact_ids)},
        )
        return steps_by_contact(result)

    async def timer_partitions(self, contact_ids: Sequence[str]) -> dict[str, int]:
        """The partition each contact's timers are gated by, for contacts that have timers."""
        result = await self._session.execute(
            _TIMER_PARTITIONS,
            {"ids": list(contact_ids)},
        )
        return {row.contact_id: row.partition for row in result}

    async def replace_due_alerts(
        self,
        contact_ids: Sequence[str],
        pending: Sequence[PendingAlert],
        partitions: Mapping[str, int | None],
    ) -> int:
        """Cancel the contacts' timers and schedule `pending` instead, except alerts already fired.

        Each timer keeps its contact's partition (`partitions`), whose watermark gates it; a
        contact not in it (re-planned, no timer before) gets NULL: gated by every partition.
        The DELETE waits for a scheduler that holds one of these rows mid-claim, so a
        timer is either fired before this transaction or cancelled by it, never both.
        """
        await self._session.execute(
            _DELETE_DUE_ALERTS,
            {"ids": sorted(contact_ids)},
        )
        if not pending:
            return 0
        # The timers as one JSON document (one json.dumps call), their instants beside it:
        # the driver checks and encodes every element of an array parameter on its own.
        result = await self._session.execute(
            _INSERT_DUE_ALERTS,
            {
                "timers": json.dumps(
                    [
                        [
                            p.contact_id,
                            p.target.value,
                            p.kind.value,
                            p.cycle,
                            p.level,
                            partitions.get(p.contact_id),
                            p.team or "",
                            pending_json(p),
                        ]
                        for p in pending
                    ]
                ),
                "due": [instant(p.send_at) for p in pending],
            },
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def update_summaries(self, states: Iterable[ContactClocks]) -> None:
        """The columns the live service level reads: status and how the first response went."""
        rows = []
        for state in states:
            outcome, due, elapsed = state.first_response_outcome()
            rows.append((state, outcome.value, due, elapsed))
        if not rows:
            return
        await self._session.execute(
            _UPDATE_SUMMARIES,
            {
                "ids": [s.decision.contact_id for s, *_ in rows],
                "status": [s.status.value for s, *_ in rows],
                "fr_state": [o for _, o, _, _ in rows],
                "fr_due": [maybe_instant(d) for _, _, d, _ in rows],
                "fr_at": [maybe_instant(s.first_response_at) for s, *_ in rows],
                "fr_elapsed": [e for *_, e in rows],
                "resolved": [maybe_instant(s.resolved_at) for s, *_ in rows],
                "abandoned": [maybe_instant(s.abandoned_at) for s, *_ in rows],
                "versions": [s.policy_version for s, *_ in rows],
            },
        )
        await self._replace_ola_clocks([s for s, *_ in rows])

    async def _replace_ola_clocks(self, states: Sequence[ContactClocks]) -> None:
        """Each contact's OLA clocks and how they went (the attainment per team reads them)."""
        olas = [(s.decision.contact_id, c, outcome(c)) for s in states for c in s.olas]
        await self._session.execute(
            _REPLACE_OLA_CLOCKS,
            {
                "ids": sorted(s.decision.contact_id for s in states),
                "contacts": [cid for cid, _, _ in olas],
                "teams": [c.team for _, c, _ in olas],
                "cycles": [c.cycle for _, c, _ in olas],
                "queues": [c.segments[0].queue.id for _, c, _ in olas],
                "started": [instant(c.started_at) for _, c, _ in olas],
                "states": [o.value for _, _, (o, _, _) in olas],
                "due": [maybe_instant(due) for _, _, (_, due, _) in olas],
            },
        )

    async def record_watermarks(self, consumed: Sequence[tuple[str, int, datetime]]) -> None:
        """Move each (topic, partition)'s watermark up to the instant given; never back."""
        if not consumed:
            return
        await self._session.execute(
            _RECORD_WATERMARKS,
            {
                "topics": [topic for topic, _, _ in consumed],
                "partitions": [partition for _, partition, _ in consumed],
                "until": [until for _, _, until in consumed],
            },
        )
