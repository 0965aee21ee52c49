"""All SQL of sla-monitor. One round trip per table per batch: arrays in, `unnest` inside.

Tables (schema `sla`, see migrations/): `contacts`, `lifecycle`, `due_alerts`, `alerts`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from sla_monitor.domain.clock import ContactClocks, Decision, PendingAlert, QueueRef, Step
from sla_monitor.domain.status import FiredRecord
from switchboard_calendars import instant
from switchboard_events import AlertKind, Channel, LifecycleKind, QueueKind, SlaTarget


@dataclass(frozen=True, slots=True)
class DecisionRow:
    """A routing decision as stored: the domain's `Decision` plus when and which."""

    decision: Decision
    decision_id: str
    decided_at: datetime


@dataclass(frozen=True, slots=True)
class StepRow:
    event_id: str
    contact_id: str
    kind: str
    at: datetime
    to_queue_id: str | None


@dataclass(frozen=True, slots=True)
class FiredAlert:
    """An alert to record in the outbox: its key, id, payload and times."""

    pending: PendingAlert
    alert_id: str
    fired_at: datetime
    payload: bytes


# -- the consumer's side -------------------------------------------------------------------


async def upsert_contacts(
    session: AsyncSession, contact_ids: Sequence[str], decisions: Sequence[DecisionRow]
) -> dict[str, Decision]:
    """Make a row for every contact touched (locking them in id order); keep the newest decision.

    Returns the decision each touched contact now has (contacts still without one left out).
    """
    by_contact = {row.decision.contact_id: row for row in decisions}
    ids = sorted(set(contact_ids) | set(by_contact))
    rows = [by_contact.get(cid) for cid in ids]

    def column(get: Any) -> list[Any]:
        return [None if row is None else get(row) for row in rows]

    result = await session.execute(
        text(
            """
            INSERT INTO sla.contacts AS c (contact_id, decision_id, decided_at, queue_id,
                queue_kind, vendor, priority, priority_label, channel, tier, arrived_at)
            SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:decision_ids AS text[]),
                CAST(:decided_at AS timestamptz[]), CAST(:queue_ids AS text[]),
                CAST(:kinds AS text[]), CAST(:vendors AS text[]), CAST(:priorities AS int[]),
                CAST(:labels AS text[]), CAST(:channels AS text[]), CAST(:tiers AS text[]),
                CAST(:arrived AS timestamptz[]))
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
                updated_at = now()
            RETURNING c.contact_id, c.decision_id, c.queue_id, c.queue_kind, c.vendor, c.priority,
                c.priority_label, c.channel, c.tier, c.arrived_at
            """.replace(
                "n.newer",
                "(excluded.decided_at IS NOT NULL"
                " AND (c.decided_at IS NULL OR excluded.decided_at > c.decided_at))",
            )
        ),
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
        },
    )
    return {row.contact_id: _decision(row) for row in result if row.decision_id is not None}


def _decision(row: Any) -> Decision:
    return Decision(
        contact_id=row.contact_id,
        queue=QueueRef(row.queue_id, QueueKind(row.queue_kind), row.vendor),
        priority=row.priority,
        priority_label=row.priority_label,
        channel=Channel(row.channel),
        tier=row.tier,
        arrived_at=row.arrived_at.timestamp(),
    )


async def insert_steps(
    session: AsyncSession, steps: Sequence[StepRow], load_for: Sequence[str]
) -> dict[str, list[Step]]:
    """Store `steps`; return every step (old and new) of the contacts in `load_for`."""
    result = await session.execute(
        text(
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
        ),
        {
            "ids": [s.event_id for s in steps],
            "contacts": [s.contact_id for s in steps],
            "kinds": [s.kind for s in steps],
            "ats": [s.at for s in steps],
            "to_queues": [s.to_queue_id for s in steps],
            "load": list(load_for),
        },
    )
    return _steps_by_contact(result)


def _steps_by_contact(rows: Iterable[Any]) -> dict[str, list[Step]]:
    found: dict[str, list[Step]] = {}
    for row in sorted(rows, key=lambda r: r.seq):
        step = Step(LifecycleKind(row.kind), row.at.timestamp(), row.seq, row.to_queue_id)
        found.setdefault(row.contact_id, []).append(step)
    return found


async def load_history(
    session: AsyncSession, contact_id: str
) -> tuple[Decision | None, list[Step]]:
    """A contact's decision (None before it arrived) and every lifecycle step known."""
    decision = (
        await session.execute(
            text(
                "SELECT contact_id, decision_id, queue_id, queue_kind, vendor, priority,"
                " priority_label, channel, tier, arrived_at FROM sla.contacts"
                " WHERE contact_id = :c AND decision_id IS NOT NULL"
            ),
            {"c": contact_id},
        )
    ).first()
    steps = await load_steps(session, [contact_id])
    return None if decision is None else _decision(decision), steps.get(contact_id, [])


async def lock_stale_open(session: AsyncSession, version: str, limit: int) -> list[Decision]:
    """Up to `limit` open contacts last planned with another policy version, locked, by id.

    Not SKIP LOCKED: a consumer batch holding one is waited for, and the row checked
    again once it commits (it may have been planned with `version` meanwhile).
    """
    result = await session.execute(
        text(
            "SELECT contact_id, decision_id, queue_id, queue_kind, vendor, priority,"
            " priority_label, channel, tier, arrived_at FROM sla.contacts"
            " WHERE status = 'open' AND decision_id IS NOT NULL"
            " AND policy_version IS DISTINCT FROM :version"
            " ORDER BY contact_id LIMIT :limit FOR UPDATE"
        ),
        {"version": version, "limit": limit},
    )
    return [_decision(row) for row in result]


async def load_steps(session: AsyncSession, contact_ids: Sequence[str]) -> dict[str, list[Step]]:
    """Every lifecycle step of the contacts given."""
    result = await session.execute(
        text(
            "SELECT contact_id, kind, at, seq, to_queue_id FROM sla.lifecycle"
            " WHERE contact_id = ANY(CAST(:ids AS text[]))"
        ),
        {"ids": list(contact_ids)},
    )
    return _steps_by_contact(result)


async def timer_partitions(session: AsyncSession, contact_ids: Sequence[str]) -> dict[str, int]:
    """The partition each contact's timers are gated by, for contacts that have timers."""
    result = await session.execute(
        text(
            "SELECT DISTINCT ON (contact_id) contact_id, partition FROM sla.due_alerts"
            " WHERE contact_id = ANY(CAST(:ids AS text[])) AND partition IS NOT NULL"
        ),
        {"ids": list(contact_ids)},
    )
    return {row.contact_id: row.partition for row in result}


async def replace_due_alerts(
    session: AsyncSession,
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
    await session.execute(
        text("DELETE FROM sla.due_alerts WHERE contact_id = ANY(CAST(:ids AS text[]))"),
        {"ids": sorted(contact_ids)},
    )
    if not pending:
        return 0
    result = await session.execute(
        text(
            """
            INSERT INTO sla.due_alerts (contact_id, target, kind, cycle, level, due_at, alert,
                partition)
            SELECT n.* FROM unnest(CAST(:contacts AS text[]), CAST(:targets AS text[]),
                CAST(:kinds AS text[]), CAST(:cycles AS int[]), CAST(:levels AS int[]),
                CAST(:due AS timestamptz[]), CAST(:alerts AS jsonb[]), CAST(:partitions AS int[]))
                AS n(contact_id, target, kind, cycle, level, due_at, alert, partition)
            WHERE NOT EXISTS (
                SELECT 1 FROM sla.alerts a WHERE a.contact_id = n.contact_id
                AND a.target = n.target AND a.kind = n.kind AND a.cycle = n.cycle
                AND a.level = n.level)
            """
        ),
        {
            "contacts": [p.contact_id for p in pending],
            "targets": [p.target.value for p in pending],
            "kinds": [p.kind.value for p in pending],
            "cycles": [p.cycle for p in pending],
            "levels": [p.level for p in pending],
            "due": [instant(p.fire_at) for p in pending],
            "alerts": [json.dumps(_pending_json(p)) for p in pending],
            "partitions": [partitions.get(p.contact_id) for p in pending],
        },
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _pending_json(p: PendingAlert) -> dict[str, Any]:
    return {
        "fire_at": p.fire_at,
        "due_at": p.due_at,
        "queue_id": p.queue.id,
        "queue_kind": p.queue.kind.value,
        "vendor": p.queue.vendor,
        "priority": p.priority,
        "priority_label": p.priority_label,
        "channel": p.channel.value,
        "target_seconds": p.target_seconds,
        "elapsed": p.elapsed,
        "rule": p.rule,
        "waited": [[q.id, q.kind.value, q.vendor, seconds] for q, seconds in p.waited],
        "wall_seconds": p.wall_seconds,
        "paused_seconds": p.paused_seconds,
    }


def _pending_from(row: Any) -> PendingAlert:
    a = json.loads(row.alert) if isinstance(row.alert, str) else row.alert
    return PendingAlert(
        contact_id=row.contact_id,
        target=SlaTarget(row.target),
        kind=AlertKind(row.kind),
        cycle=row.cycle,
        level=row.level,
        fire_at=a["fire_at"],
        due_at=a["due_at"],
        queue=QueueRef(a["queue_id"], QueueKind(a["queue_kind"]), a["vendor"]),
        priority=a["priority"],
        priority_label=a["priority_label"],
        channel=Channel(a["channel"]),
        target_seconds=a["target_seconds"],
        elapsed=a["elapsed"],
        rule=a["rule"],
        # Timers written before waits were recorded have none: their alerts say nothing.
        waited=tuple(
            (QueueRef(qid, QueueKind(kind), vendor), seconds)
            for qid, kind, vendor, seconds in a.get("waited", [])
        ),
        wall_seconds=a.get("wall_seconds"),
        paused_seconds=a.get("paused_seconds"),
    )


async def update_summaries(session: AsyncSession, states: Iterable[ContactClocks]) -> None:
    """The columns the live service level reads: status and how the first response went."""
    rows = []
    for state in states:
        outcome, due, elapsed = state.first_response_outcome()
        rows.append((state, outcome.value, due, elapsed))
    if not rows:
        return
    await session.execute(
        text(
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
        ),
        {
            "ids": [s.decision.contact_id for s, *_ in rows],
            "status": [s.status.value for s, *_ in rows],
            "fr_state": [o for _, o, _, _ in rows],
            "fr_due": [_maybe_instant(d) for _, _, d, _ in rows],
            "fr_at": [_maybe_instant(s.first_response_at) for s, *_ in rows],
            "fr_elapsed": [e for *_, e in rows],
            "resolved": [_maybe_instant(s.resolved_at) for s, *_ in rows],
            "abandoned": [_maybe_instant(s.abandoned_at) for s, *_ in rows],
            "versions": [s.policy_version for s, *_ in rows],
        },
    )


def _maybe_instant(at: float | None) -> datetime | None:
    return None if at is None else instant(at)


# -- the scheduler's side ------------------------------------------------------------------


async def record_watermarks(
    session: AsyncSession, consumed: Sequence[tuple[str, int, datetime]]
) -> None:
    """Move each (topic, partition)'s watermark up to the instant given; never back."""
    if not consumed:
        return
    await session.execute(
        text(
            """
            INSERT INTO sla.watermarks AS w (topic, partition, consumed_until)
            SELECT * FROM unnest(CAST(:topics AS text[]), CAST(:partitions AS int[]),
                CAST(:until AS timestamptz[]))
            ORDER BY 1, 2
            ON CONFLICT (topic, partition) DO UPDATE SET
                consumed_until = GREATEST(w.consumed_until, excluded.consumed_until),
                updated_at = now()
            """
        ),
        {
            "topics": [topic for topic, _, _ in consumed],
            "partitions": [partition for _, partition, _ in consumed],
            "until": [until for _, _, until in consumed],
        },
    )


# The instant up to which both topics of a partition are read; NULL (timers written
# before watermarks existed) waits for every partition.
_GATE = """
    WITH w AS (
        SELECT partition, min(consumed_until) AS until FROM sla.watermarks
        WHERE topic = ANY(CAST(:topics AS text[])) GROUP BY partition
        HAVING count(*) = cardinality(CAST(:topics AS text[]))
    )
"""


async def claim_due(
    session: AsyncSession, now: datetime, limit: int, topics: Sequence[str]
) -> list[PendingAlert]:
    """Take (delete, locked until commit) up to `limit` timers due by `now`, oldest first.

    Only timers whose contact's partition is read past their due time on every one of
    `topics` (the watermark gate): an alert never fires while a step that could stop it
    may still be unread. SKIP LOCKED: timers another instance is claiming, or a consumer
    is cancelling, are left to them.
    """
    result = await session.execute(
        text(
            _GATE
            + """
            DELETE FROM sla.due_alerts d USING (
                SELECT t.contact_id, t.target, t.kind, t.cycle, t.level FROM sla.due_alerts t
                LEFT JOIN w ON w.partition = t.partition
                WHERE t.due_at <= :now AND t.due_at <= CASE
                    WHEN t.partition IS NULL THEN (SELECT min(until) FROM w) ELSE w.until END
                ORDER BY t.due_at LIMIT :limit FOR UPDATE OF t SKIP LOCKED
            ) AS due
            WHERE d.contact_id = due.contact_id AND d.target = due.target
                AND d.kind = due.kind AND d.cycle = due.cycle AND d.level = due.level
            RETURNING d.contact_id, d.target, d.kind, d.cycle, d.level, d.due_at, d.alert
            """
        ),
        {"now": now, "limit": limit, "topics": list(topics)},
    )
    rows = sorted(result, key=lambda r: (r.due_at, r.contact_id))
    return [_pending_from(r) for r in rows]


async def held_back(session: AsyncSession, now: datetime, topics: Sequence[str]) -> int:
    """Timers due by `now` that the watermark gate still holds (the monitor is behind)."""
    found = await session.scalar(
        text(
            _GATE
            + """
            SELECT count(*) FROM sla.due_alerts t LEFT JOIN w ON w.partition = t.partition
            WHERE t.due_at <= :now AND NOT coalesce(t.due_at <= CASE
                WHEN t.partition IS NULL THEN (SELECT min(until) FROM w) ELSE w.until END, false)
            """
        ),
        {"now": now, "topics": list(topics)},
    )
    return int(found or 0)


async def record_fired(session: AsyncSession, fired: Sequence[FiredAlert]) -> set[str]:
    """Claim each alert's unique key; the ids returned are the ones claimed now (to publish)."""
    if not fired:
        return set()
    result = await session.execute(
        text(
            """
            INSERT INTO sla.alerts (contact_id, target, kind, cycle, level, alert_id, queue_id,
                channel, due_at, fired_at, payload)
            SELECT * FROM unnest(CAST(:contacts AS text[]), CAST(:targets AS text[]),
                CAST(:kinds AS text[]), CAST(:cycles AS int[]), CAST(:levels AS int[]),
                CAST(:ids AS text[]),
                CAST(:queues AS text[]), CAST(:channels AS text[]), CAST(:due AS timestamptz[]),
                CAST(:fired AS timestamptz[]), CAST(:payloads AS bytea[]))
            ON CONFLICT DO NOTHING
            RETURNING alert_id
            """
        ),
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
        },
    )
    return {row[0] for row in result}


async def mark_published(session: AsyncSession, alert_ids: Sequence[str], at: datetime) -> None:
    if alert_ids:
        await session.execute(
            text(
                "UPDATE sla.alerts SET published_at = :at"
                " WHERE alert_id = ANY(CAST(:ids AS text[])) AND published_at IS NULL"
            ),
            {"ids": list(alert_ids), "at": at},
        )


async def claim_unpublished(
    session: AsyncSession, older_than: datetime, limit: int
) -> list[tuple[str, str, bytes]]:
    """Alerts recorded but not acknowledged (a crash between commit and ack), locked.

    Returns (alert_id, contact_id, payload); the lock is held until the caller has
    re-published and marked them, so two instances do not both re-publish.
    """
    result = await session.execute(
        text(
            "SELECT alert_id, contact_id, payload FROM sla.alerts"
            " WHERE published_at IS NULL AND fired_at <= :older_than"
            " ORDER BY fired_at LIMIT :limit FOR UPDATE SKIP LOCKED"
        ),
        {"older_than": older_than, "limit": limit},
    )
    return [(r.alert_id, r.contact_id, bytes(r.payload)) for r in result]


async def next_due(session: AsyncSession, after: datetime) -> datetime | None:
    """The first timer due after `after` (those due already wait for claims or watermarks)."""
    value = await session.scalar(
        text("SELECT min(due_at) FROM sla.due_alerts WHERE due_at > :after"), {"after": after}
    )
    return value if isinstance(value, datetime) else None


# -- reading, for the admin API and the gauges ---------------------------------------------


async def fired_alerts(session: AsyncSession, contact_id: str) -> list[FiredRecord]:
    """The alerts fired for a contact (the `due_at` column is when the level was reached)."""
    result = await session.execute(
        text(
            "SELECT target, kind, cycle, level, alert_id, due_at, fired_at, published_at"
            " FROM sla.alerts WHERE contact_id = :c ORDER BY due_at, fired_at"
        ),
        {"c": contact_id},
    )
    return [
        FiredRecord(
            target=r.target,
            kind=r.kind,
            cycle=r.cycle,
            level=r.level,
            alert_id=r.alert_id,
            reached_at=r.due_at,
            fired_at=r.fired_at,
            published=r.published_at is not None,
        )
        for r in result
    ]


@dataclass(frozen=True, slots=True)
class ServiceLevelRow:
    window_s: int
    queue_id: str
    channel: str
    arrived: int
    met: int
    missed: int
    abandoned: int
    first_response_avg_s: float | None
    first_response_p90_s: float | None
    open_contacts: int
    oldest_waiting_s: float | None
    breaches: int

    @property
    def service_level(self) -> float | None:
        decided = self.met + self.missed
        return self.met / decided if decided else None

    @property
    def abandonment(self) -> float | None:
        return self.abandoned / self.arrived if self.arrived else None


async def service_level(
    session: AsyncSession, windows: Sequence[int], now: datetime
) -> list[ServiceLevelRow]:
    """Live service level per window, queue and channel, in one query.

    - service level: of the contacts that arrived in the window and whose first response
      is decided, the share answered within target (late answers, and unanswered ones
      past their target, count against; abandoned before the target is left out);
    - average and p90 time to first response (business seconds) of first responses in
      the window; abandonment: abandoned / arrived in the window;
    - open contacts and the oldest one still waiting for a first response (not windowed);
    - breaches: breach alerts fired in the window.
    """
    result = await session.execute(
        text(
            """
            WITH w AS (SELECT unnest(CAST(:windows AS int[])) AS seconds),
            recent AS (
                SELECT queue_id, channel, arrived_at, fr_state, fr_due_at, fr_at, fr_elapsed_s,
                    abandoned_at
                FROM sla.contacts
                WHERE arrived_at IS NOT NULL
                    AND (arrived_at >= CAST(:since AS timestamptz) OR fr_at >= CAST(:since AS timestamptz))
            ),
            flow AS (
                SELECT w.seconds, r.queue_id, r.channel,
                    count(*) FILTER (WHERE r.arrived_at >= CAST(:now AS timestamptz) - make_interval(secs => w.seconds))
                        AS arrived,
                    count(*) FILTER (WHERE r.arrived_at >= CAST(:now AS timestamptz) - make_interval(secs => w.seconds)
                        AND r.fr_state = 'met') AS met,
                    count(*) FILTER (WHERE r.arrived_at >= CAST(:now AS timestamptz) - make_interval(secs => w.seconds)
                        AND (r.fr_state = 'missed'
                             OR (r.fr_state = 'pending' AND r.fr_due_at <= CAST(:now AS timestamptz)))) AS missed,
                    count(*) FILTER (WHERE r.arrived_at >= CAST(:now AS timestamptz) - make_interval(secs => w.seconds)
                        AND r.abandoned_at IS NOT NULL) AS abandoned,
                    avg(r.fr_elapsed_s) FILTER (
                        WHERE r.fr_at >= CAST(:now AS timestamptz) - make_interval(secs => w.seconds)) AS fr_avg,
                    percentile_cont(0.9) WITHIN GROUP (ORDER BY r.fr_elapsed_s) FILTER (
                        WHERE r.fr_at >= CAST(:now AS timestamptz) - make_interval(secs => w.seconds)) AS fr_p90
                FROM recent r CROSS JOIN w
                GROUP BY w.seconds, r.queue_id, r.channel
            ),
            open AS (
                SELECT queue_id, channel, count(*) AS open_contacts,
                    extract(epoch FROM CAST(:now AS timestamptz) - min(arrived_at) FILTER (WHERE fr_at IS NULL))
                        AS oldest_waiting_s
                FROM sla.contacts
                WHERE status = 'open' AND arrived_at IS NOT NULL
                GROUP BY queue_id, channel
            ),
            breaches AS (
                SELECT w.seconds, a.queue_id, a.channel, count(*) AS breaches
                FROM sla.alerts a CROSS JOIN w
                WHERE a.kind = 'breach' AND a.fired_at >= CAST(:now AS timestamptz) - make_interval(secs => w.seconds)
                GROUP BY w.seconds, a.queue_id, a.channel
            ),
            keys AS (
                SELECT seconds, queue_id, channel FROM flow
                UNION SELECT w.seconds, o.queue_id, o.channel FROM open o CROSS JOIN w
                UNION SELECT seconds, queue_id, channel FROM breaches
            )
            SELECT k.seconds, k.queue_id, k.channel, coalesce(f.arrived, 0) AS arrived,
                coalesce(f.met, 0) AS met, coalesce(f.missed, 0) AS missed,
                coalesce(f.abandoned, 0) AS abandoned, f.fr_avg, f.fr_p90,
                coalesce(o.open_contacts, 0) AS open_contacts, o.oldest_waiting_s,
                coalesce(b.breaches, 0) AS breaches
            FROM keys k
            LEFT JOIN flow f USING (seconds, queue_id, channel)
            LEFT JOIN open o USING (queue_id, channel)
            LEFT JOIN breaches b USING (seconds, queue_id, channel)
            ORDER BY k.seconds, k.queue_id, k.channel
            """
        ),
        {"windows": list(windows), "now": now, "since": now - timedelta(seconds=max(windows))},
    )
    return [
        ServiceLevelRow(
            window_s=r.seconds,
            queue_id=r.queue_id,
            channel=r.channel,
            arrived=r.arrived,
            met=r.met,
            missed=r.missed,
            abandoned=r.abandoned,
            first_response_avg_s=_float(r.fr_avg),
            first_response_p90_s=_float(r.fr_p90),
            open_contacts=r.open_contacts,
            oldest_waiting_s=_float(r.oldest_waiting_s),
            breaches=r.breaches,
        )
        for r in result
    ]


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]
