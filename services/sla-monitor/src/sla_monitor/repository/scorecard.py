"""The scorecard's SQL: one row per contact written with its clocks, read grouped.

`ScorecardStore` is the port: the handler and the re-plan write through it in their
transaction, the admin API and the gauges read through it. `PgScorecardStore` is its
PostgreSQL implementation (table `sla.scorecard`, migration 0010; SLA breaches from
`sla.alerts`, OLA alerts left out). The rules are in `domain/scorecard.py`; first-contact
resolution is computed when read, by the rule there.
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
class ContactUpdate:
    """What one `record` call brings for one contact (at least one of the three)."""

    facts: DecisionFacts | None
    clocks: tuple[Decision, Outcomes] | None
    score: CsatScore | None


@dataclass(frozen=True, slots=True)
class ScorecardUpdate:
    """What one `record` call writes: decisions' facts, what the clocks say, CSAT scores."""

    facts: Sequence[DecisionFacts] = ()
    scored: Sequence[tuple[Decision, Outcomes]] = ()
    scores: Sequence[CsatScore] = ()

    def per_contact(self) -> dict[str, ContactUpdate]:
        """By contact id, in id order: its newest facts (by `decided_at`), its clocks (the
        last given), its latest score (by when it was recorded)."""
        newest: dict[str, DecisionFacts] = {}
        for f in self.facts:
            if (known := newest.get(f.contact_id)) is None or f.decided_at > known.decided_at:
                newest[f.contact_id] = f
        latest: dict[str, CsatScore] = {}
        for c in self.scores:
            if (seen := latest.get(c.contact_id)) is None or c.at > seen.at:
                latest[c.contact_id] = c
        clocks = {d.contact_id: (d, o) for d, o in self.scored}
        return {
            cid: ContactUpdate(newest.get(cid), clocks.get(cid), latest.get(cid))
            for cid in sorted(set(newest) | set(clocks) | set(latest))
        }


@dataclass(frozen=True, slots=True)
class ScorecardQuery:
    """Contacts arrived in [since, until), grouped by `group_by` (names of `GROUPS`, ordered
    by the groups), as of `now`, first-contact resolution over `fcr_window_s`; a page."""

    since: datetime
    until: datetime
    group_by: Sequence[str]
    now: datetime
    fcr_window_s: float
    limit: int
    offset: int = 0


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
    async def record(self, update: ScorecardUpdate) -> None:
        """Per contact: its newest decision's facts (by `decided_at`), its routed queue,
        channel, arrival and what the clocks say (as given), its latest CSAT score (by when
        it was recorded). Any of the three may come before the others."""
        ...

    async def scorecard(self, query: ScorecardQuery) -> list[ScorecardRow]:
        """The query's groups and their figures; a group without contacts is left out."""
        ...


_GROUP_SQL = {
    "queue": "queue_id",
    "queue_kind": "queue_kind",
    "vendor": "coalesce(vendor, '')",
    "channel": "channel",
    "day": "to_char(arrived_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
}
assert set(_GROUP_SQL) == set(GROUPS)
_DECISION_COLUMNS = ("decided_at", "contact_type", "customer_key", "cost")
_CLOCK_COLUMNS = (
    "arrived_at",
    "queue_id",
    "queue_kind",
    "vendor",
    "channel",
    "first_response_s",
    "fr_outcome",
    "resolved_at",
    "resolution_s",
    "resolution_outcome",
    "abandoned",
)
_NEWER_DECISION = "excluded.decided_at IS NOT NULL AND (s.decided_at IS NULL OR excluded.decided_at > s.decided_at)"
_NEWER_CSAT = "excluded.csat_at IS NOT NULL AND (s.csat_at IS NULL OR excluded.csat_at > s.csat_at)"


def _keep(column: str, replace_when: str) -> str:
    return f"{column} = CASE WHEN {replace_when} THEN excluded.{column} ELSE s.{column} END"


class PgScorecardStore:
    """`ScorecardStore` on PostgreSQL, in the caller's session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(self, update: ScorecardUpdate) -> None:
        """One upsert for the three: each part of a row is kept unless this row brings it
        (outcomes) or a newer one (facts, score)."""
        per_contact = update.per_contact()
        if not per_contact:
            return
        ids = list(per_contact)
        fs = [u.facts for u in per_contact.values()]
        cs = [u.clocks for u in per_contact.values()]
        ss = [u.score for u in per_contact.values()]
        await self._session.execute(
            text(
                """
                INSERT INTO sla.scorecard AS s (contact_id, decided_at, contact_type,
                    customer_key, cost, arrived_at, queue_id, queue_kind, vendor, channel,
                    first_response_s, fr_outcome, resolved_at, resolution_s,
                    resolution_outcome, abandoned, csat, csat_at)
                SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:decided AS timestamptz[]),
                    CAST(:types AS text[]), CAST(:keys AS text[]), CAST(:costs AS float8[]),
                    CAST(:arrived AS timestamptz[]), CAST(:queues AS text[]),
                    CAST(:kinds AS text[]), CAST(:vendors AS text[]), CAST(:channels AS text[]),
                    CAST(:fr AS float8[]), CAST(:fr_out AS text[]),
                    CAST(:resolved AS timestamptz[]), CAST(:res AS float8[]),
                    CAST(:res_out AS text[]), CAST(:abandoned AS boolean[]),
                    CAST(:csat AS smallint[]), CAST(:csat_at AS timestamptz[]))
                ON CONFLICT (contact_id) DO UPDATE SET
                """
                + ",\n".join(
                    [
                        *(_keep(c, _NEWER_DECISION) for c in _DECISION_COLUMNS),
                        *(_keep(c, "excluded.fr_outcome IS NOT NULL") for c in _CLOCK_COLUMNS),
                        *(_keep(c, _NEWER_CSAT) for c in ("csat", "csat_at")),
                        "updated_at = now()",
                    ]
                )
            ),
            {
                "ids": ids,
                "decided": [f and f.decided_at for f in fs],
                "types": [f and f.contact_type for f in fs],
                "keys": [f and f.customer_key for f in fs],
                "costs": [f and f.cost for f in fs],
                "arrived": [c and instant(c[0].arrived_at) for c in cs],
                "queues": [c and c[0].queue.id for c in cs],
                "kinds": [c and c[0].queue.kind.value for c in cs],
                "vendors": [c and c[0].queue.vendor for c in cs],
                "channels": [c and c[0].channel.value for c in cs],
                "fr": [c and c[1].first_response_s for c in cs],
                "fr_out": [c and c[1].first_response.value for c in cs],
                "resolved": [c and maybe_instant(c[1].resolved_at) for c in cs],
                "res": [c and c[1].resolution_s for c in cs],
                "res_out": [c and c[1].resolution.value for c in cs],
                "abandoned": [c is not None and c[1].abandoned for c in cs],
                "csat": [c and c.score for c in ss],
                "csat_at": [c and c.at for c in ss],
            },
        )

    async def scorecard(self, query: ScorecardQuery) -> list[ScorecardRow]:
        """`query.group_by` names come from `GROUPS` only: they are put into the SQL as columns."""
        group_by = query.group_by
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
                        -- an OLA's breach (team <> '') is the team's, not the SLA's
                        EXISTS (SELECT 1 FROM sla.alerts a
                            WHERE a.contact_id = c.contact_id AND a.kind = 'breach'
                                AND a.team = '') AS breached
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
                "since": query.since,
                "until": query.until,
                "now": query.now,
                "window": float(query.fcr_window_s),
                "limit": query.limit,
                "offset": query.offset,
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
