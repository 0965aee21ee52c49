"""sla-monitor's reads, for the admin API and the live gauges: a contact's history, its
fired alerts, the live service level. Read-only; `ReadStore` is the port, `PgReadStore`
its PostgreSQL implementation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from sla_monitor.domain.clock import Decision, Step
from sla_monitor.domain.status import FiredRecord
from sla_monitor.repository.rows import decision_from, steps_by_contact


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


@dataclass(frozen=True, slots=True)
class OlaRow:
    """A team's OLA attainment in a window: handovers started in it, met and missed."""

    window_s: int
    team: str
    handovers: int
    met: int
    missed: int

    @property
    def attainment(self) -> float | None:
        decided = self.met + self.missed
        return self.met / decided if decided else None


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


class ReadStore(Protocol):
    async def load_history(self, contact_id: str) -> tuple[Decision | None, list[Step]]:
        """A contact's decision (None before it arrived) and every lifecycle step known."""
        ...

    async def fired_alerts(self, contact_id: str) -> list[FiredRecord]:
        """The alerts fired for a contact."""
        ...

    async def service_level(self, windows: Sequence[int], now: datetime) -> list[ServiceLevelRow]:
        """Live service level per window, queue and channel, as of `now`."""
        ...

    async def ola_attainment(self, windows: Sequence[int], now: datetime) -> list[OlaRow]:
        """OLA attainment per window and receiving team, as of `now`."""
        ...


class PgReadStore:
    """`ReadStore` on PostgreSQL."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def load_history(self, contact_id: str) -> tuple[Decision | None, list[Step]]:
        """A contact's decision (None before it arrived) and every lifecycle step known."""
        decision = (
            await self._session.execute(
                text(
                    "SELECT contact_id, decision_id, queue_id, queue_kind, vendor, priority,"
                    " priority_label, channel, tier, arrived_at, contract_id FROM sla.contacts"
                    " WHERE contact_id = :c AND decision_id IS NOT NULL"
                ),
                {"c": contact_id},
            )
        ).first()
        result = await self._session.execute(
            text(
                "SELECT contact_id, kind, at, seq, to_queue_id FROM sla.lifecycle"
                " WHERE contact_id = :c"
            ),
            {"c": contact_id},
        )
        steps = steps_by_contact(result)
        return None if decision is None else decision_from(decision), steps.get(contact_id, [])

    async def fired_alerts(self, contact_id: str) -> list[FiredRecord]:
        """The alerts fired for a contact (the `due_at` column is when the level was reached)."""
        result = await self._session.execute(
            text(
                "SELECT target, kind, cycle, level, alert_id, due_at, fired_at, published_at, team"
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
                team=r.team or None,
            )
            for r in result
        ]

    async def service_level(self, windows: Sequence[int], now: datetime) -> list[ServiceLevelRow]:
        """Live service level per window, queue and channel, in one query.

        - service level: of the contacts that arrived in the window and whose first response
          is decided, the share answered within target (late answers, and unanswered ones
          past their target, count against; abandoned before the target is left out);
        - average and p90 time to first response (business seconds) of first responses in
          the window; abandonment: abandoned / arrived in the window;
        - open contacts and the oldest one still waiting for a first response (not windowed);
        - breaches: SLA breach alerts fired in the window (an OLA's are the team's).
        """
        result = await self._session.execute(
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
                    WHERE a.kind = 'breach' AND a.team = '' AND a.fired_at >= CAST(:now AS timestamptz) - make_interval(secs => w.seconds)
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

    async def ola_attainment(self, windows: Sequence[int], now: datetime) -> list[OlaRow]:
        """Per window and receiving team, of the handovers in the window: how many, and how
        many met their OLA or missed it (met late, stopped late, or still running past due)."""
        result = await self._session.execute(
            text(
                """
                SELECT w.seconds, o.team, count(*) AS handovers,
                    count(*) FILTER (WHERE o.state = 'met') AS met,
                    count(*) FILTER (WHERE o.state = 'missed'
                        OR (o.state = 'pending' AND o.due_at <= CAST(:now AS timestamptz))) AS missed
                FROM sla.ola_clocks o
                CROSS JOIN unnest(CAST(:windows AS int[])) AS w(seconds)
                WHERE o.started_at >= CAST(:now AS timestamptz) - make_interval(secs => w.seconds)
                GROUP BY w.seconds, o.team
                ORDER BY w.seconds, o.team
                """
            ),
            {"windows": list(windows), "now": now},
        )
        return [OlaRow(r.seconds, r.team, r.handovers, r.met, r.missed) for r in result]
