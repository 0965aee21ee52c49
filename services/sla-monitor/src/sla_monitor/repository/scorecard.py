"""The scorecard's SQL: one row per contact written with its clocks, read grouped.

`ScorecardStore` is the port: the handler and the re-plan write through it in their
transaction, the admin API and the gauges read through it. `PgScorecardStore` is its
PostgreSQL implementation (table `sla.scorecard`, migration 0010; breaches from
`sla.alerts`). The rules are in `domain/scorecard.py`; first-contact resolution is
computed when read, by the rule there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from sla_monitor.domain.clock import Decision
from sla_monitor.domain.scorecard import GROUPS, Outcomes
from sla_monitor.repository.rows import maybe_instant
from switchboard_calendars import instant


@dataclass(frozen=True, slots=True)
class DecisionFacts:
    """What the scorecard takes from a decision beyond the clocks' `Decision`."""

    contact_id: str
    decided_at: datetime
    contact_type: str
    customer_key: str | None
    cost: float | None


@dataclass(frozen=True, slots=True)
class CsatScore:
    contact_id: str
    score: int
    at: datetime


@dataclass(frozen=True, slots=True)
class ScorecardRow:
    """One group's figures; `group` maps each of the group-by names to its value."""

    group: dict[str, str]
    contacts: int
    costed: int
    cost: float
    first_responses: int
    first_response_avg_s: float | None
    first_response_p90_s: float | None
    resolved: int
    resolution_avg_s: float | None
    resolution_p90_s: float | None
    csat_count: int
    csat_avg: float | None
    fcr_yes: int
    fcr_no: int
    fcr_pending: int
    abandoned: int
    breached: int

    @property
    def cost_per_contact(self) -> float | None:
        return self.cost / self.costed if self.costed else None

    @property
    def fcr_rate(self) -> float | None:
        decided = self.fcr_yes + self.fcr_no
        return self.fcr_yes / decided if decided else None

    @property
    def abandonment(self) -> float | None:
        return self.abandoned / self.contacts if self.contacts else None

    @property
    def sla_attainment(self) -> float | None:
        return (self.contacts - self.breached) / self.contacts if self.contacts else None


class ScorecardStore(Protocol):
    async def record_decisions(self, facts: Sequence[DecisionFacts]) -> None:
        """Keep each contact's newest decision's facts (by `decided_at`)."""
        ...

    async def record_outcomes(self, scored: Sequence[tuple[Decision, Outcomes]]) -> None:
        """The routed queue, channel, arrival and what the clocks say, per contact."""
        ...

    async def record_csat(self, scores: Sequence[CsatScore]) -> None:
        """Keep each contact's latest score (by the time it was recorded)."""
        ...

    async def scorecard(
        self,
        since: datetime,
        until: datetime,
        group_by: Sequence[str],
        now: datetime,
        fcr_window_s: float,
        limit: int,
        offset: int = 0,
    ) -> list[ScorecardRow]:
        """Contacts arrived in [since, until), grouped (ordered by the groups), as of `now`."""
        ...


_GROUP_SQL = {
    "queue": "queue_id",
    "queue_kind": "queue_kind",
    "vendor": "coalesce(vendor, '')",
    "channel": "channel",
    "day": "to_char(arrived_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
}
assert set(_GROUP_SQL) == set(GROUPS)


class PgScorecardStore:
    """`ScorecardStore` on PostgreSQL, in the caller's session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record_decisions(self, facts: Sequence[DecisionFacts]) -> None:
        if not facts:
            return
        ordered = sorted(facts, key=lambda f: f.contact_id)
        await self._session.execute(
            text(
                """
                INSERT INTO sla.scorecard AS s (contact_id, decided_at, contact_type,
                    customer_key, cost)
                SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:decided AS timestamptz[]),
                    CAST(:types AS text[]), CAST(:keys AS text[]), CAST(:costs AS float8[]))
                ON CONFLICT (contact_id) DO UPDATE SET
                    decided_at = excluded.decided_at, contact_type = excluded.contact_type,
                    customer_key = excluded.customer_key, cost = excluded.cost,
                    updated_at = now()
                WHERE s.decided_at IS NULL OR excluded.decided_at > s.decided_at
                """
            ),
            {
                "ids": [f.contact_id for f in ordered],
                "decided": [f.decided_at for f in ordered],
                "types": [f.contact_type for f in ordered],
                "keys": [f.customer_key for f in ordered],
                "costs": [f.cost for f in ordered],
            },
        )

    async def record_outcomes(self, scored: Sequence[tuple[Decision, Outcomes]]) -> None:
        if not scored:
            return
        ordered = sorted(scored, key=lambda s: s[0].contact_id)
        await self._session.execute(
            text(
                """
                INSERT INTO sla.scorecard AS s (contact_id, arrived_at, queue_id, queue_kind,
                    vendor, channel, first_response_s, fr_outcome, resolved_at, resolution_s,
                    resolution_outcome, abandoned)
                SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:arrived AS timestamptz[]),
                    CAST(:queues AS text[]), CAST(:kinds AS text[]), CAST(:vendors AS text[]),
                    CAST(:channels AS text[]), CAST(:fr AS float8[]), CAST(:fr_out AS text[]),
                    CAST(:resolved AS timestamptz[]), CAST(:res AS float8[]),
                    CAST(:res_out AS text[]), CAST(:abandoned AS boolean[]))
                ON CONFLICT (contact_id) DO UPDATE SET
                    arrived_at = excluded.arrived_at, queue_id = excluded.queue_id,
                    queue_kind = excluded.queue_kind, vendor = excluded.vendor,
                    channel = excluded.channel, first_response_s = excluded.first_response_s,
                    fr_outcome = excluded.fr_outcome, resolved_at = excluded.resolved_at,
                    resolution_s = excluded.resolution_s,
                    resolution_outcome = excluded.resolution_outcome,
                    abandoned = excluded.abandoned, updated_at = now()
                """
            ),
            {
                "ids": [d.contact_id for d, _ in ordered],
                "arrived": [instant(d.arrived_at) for d, _ in ordered],
                "queues": [d.queue.id for d, _ in ordered],
                "kinds": [d.queue.kind.value for d, _ in ordered],
                "vendors": [d.queue.vendor for d, _ in ordered],
                "channels": [d.channel.value for d, _ in ordered],
                "fr": [o.first_response_s for _, o in ordered],
                "fr_out": [o.first_response.value for _, o in ordered],
                "resolved": [maybe_instant(o.resolved_at) for _, o in ordered],
                "res": [o.resolution_s for _, o in ordered],
                "res_out": [o.resolution.value for _, o in ordered],
                "abandoned": [o.abandoned for _, o in ordered],
            },
        )

    async def record_csat(self, scores: Sequence[CsatScore]) -> None:
        latest: dict[str, CsatScore] = {}
        for s in scores:
            known = latest.get(s.contact_id)
            if known is None or s.at > known.at:
                latest[s.contact_id] = s
        if not latest:
            return
        ordered = [latest[c] for c in sorted(latest)]
        await self._session.execute(
            text(
                """
                INSERT INTO sla.scorecard AS s (contact_id, csat, csat_at)
                SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:scores AS smallint[]),
                    CAST(:ats AS timestamptz[]))
                ON CONFLICT (contact_id) DO UPDATE SET
                    csat = excluded.csat, csat_at = excluded.csat_at, updated_at = now()
                WHERE s.csat_at IS NULL OR excluded.csat_at > s.csat_at
                """
            ),
            {
                "ids": [s.contact_id for s in ordered],
                "scores": [s.score for s in ordered],
                "ats": [s.at for s in ordered],
            },
        )

    async def scorecard(
        self,
        since: datetime,
        until: datetime,
        group_by: Sequence[str],
        now: datetime,
        fcr_window_s: float,
        limit: int,
        offset: int = 0,
    ) -> list[ScorecardRow]:
        """Contacts arrived in [since, until), grouped (ordered by the groups), as of `now`.

        `group_by` names come from `GROUPS` only: they are put into the SQL as columns.
        """
        columns = [f"{_GROUP_SQL[g]} AS g_{g}" for g in group_by]
        keys = [f"g_{g}" for g in group_by]
        select_keys = "".join(f"{k}, " for k in keys)
        group = f"GROUP BY {', '.join(keys)} ORDER BY {', '.join(keys)}" if keys else ""
        result = await self._session.execute(
            text(
                f"""
                WITH c AS (
                    SELECT {"".join(f"{c}, " for c in columns)} s.*
                    FROM sla.scorecard s
                    WHERE s.arrived_at >= :since AND s.arrived_at < :until
                ),
                f AS (
                    SELECT c.*,
                        CASE WHEN c.customer_key IS NULL OR c.resolved_at IS NULL THEN NULL
                            WHEN EXISTS (
                                SELECT 1 FROM sla.scorecard r
                                WHERE r.customer_key = c.customer_key
                                    AND r.contact_type = c.contact_type
                                    AND r.arrived_at > c.arrived_at
                                    AND r.arrived_at <= c.resolved_at + make_interval(secs => :window))
                                THEN 'no'
                            WHEN CAST(:now AS timestamptz)
                                >= c.resolved_at + make_interval(secs => :window) THEN 'yes'
                            ELSE 'pending' END AS fcr,
                        EXISTS (SELECT 1 FROM sla.alerts a
                            WHERE a.contact_id = c.contact_id AND a.kind = 'breach') AS breached
                    FROM c
                )
                SELECT {select_keys} count(*) AS contacts, count(cost) AS costed,
                    coalesce(sum(cost), 0) AS cost,
                    count(first_response_s) AS first_responses, avg(first_response_s) AS fr_avg,
                    percentile_cont(0.9) WITHIN GROUP (ORDER BY first_response_s) AS fr_p90,
                    count(resolved_at) AS resolved, avg(resolution_s) AS res_avg,
                    percentile_cont(0.9) WITHIN GROUP (ORDER BY resolution_s) AS res_p90,
                    count(csat) AS csat_count, avg(csat) AS csat_avg,
                    count(*) FILTER (WHERE fcr = 'yes') AS fcr_yes,
                    count(*) FILTER (WHERE fcr = 'no') AS fcr_no,
                    count(*) FILTER (WHERE fcr = 'pending') AS fcr_pending,
                    count(*) FILTER (WHERE abandoned) AS abandoned,
                    count(*) FILTER (WHERE breached) AS breached
                FROM f {group}
                LIMIT :limit OFFSET :offset
                """
            ),
            {
                "since": since,
                "until": until,
                "now": now,
                "window": float(fcr_window_s),
                "limit": limit,
                "offset": offset,
            },
        )
        return [
            ScorecardRow(
                group={g: str(getattr(r, f"g_{g}")) for g in group_by},
                contacts=r.contacts,
                costed=r.costed,
                cost=float(r.cost),
                first_responses=r.first_responses,
                first_response_avg_s=_float(r.fr_avg),
                first_response_p90_s=_float(r.fr_p90),
                resolved=r.resolved,
                resolution_avg_s=_float(r.res_avg),
                resolution_p90_s=_float(r.res_p90),
                csat_count=r.csat_count,
                csat_avg=_float(r.csat_avg),
                fcr_yes=r.fcr_yes,
                fcr_no=r.fcr_no,
                fcr_pending=r.fcr_pending,
                abandoned=r.abandoned,
                breached=r.breached,
            )
            for r in result
            if r.contacts  # no group: one row, empty when nothing arrived
        ]


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]
