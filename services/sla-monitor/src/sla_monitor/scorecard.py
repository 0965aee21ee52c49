"""The scorecard: cost and quality per queue, in-house vs vendor, channel and day.

Written by the handler (and the re-plan) in the same transaction as the clocks, so a
replayed or retried batch changes nothing twice; read by the admin API
(`GET /sla/scorecard`, JSON or CSV) and exported as gauges per sliding window by a host
task. Gauges rather than counters: they are computed from the table, so they stay exact
when the runner retries or splits a batch, and every instance exports the same values
(dashboards take `max by` over instances). The rules are in `domain/scorecard.py`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sla_monitor import metrics
from sla_monitor.domain.clock import ContactClocks, Decision
from sla_monitor.domain.durations import format_duration
from sla_monitor.domain.scorecard import Outcomes, outcomes
from sla_monitor.live import every, set_known
from sla_monitor.repository.scorecard import (
    CsatScore,
    DecisionFacts,
    PgScorecardStore,
    ScorecardQuery,
    ScorecardRow,
    ScorecardStore,
    ScorecardUpdate,
)
from switchboard_events import ContactLifecycle, Event, LifecycleKind, RoutingDecided
from switchboard_runtime.clock import Clock
from switchboard_runtime.db import Delivery
from switchboard_runtime.host import Task
from switchboard_runtime.runner import Record

ScorecardStores = Callable[[AsyncSession], ScorecardStore]
"""The scorecard store on a transaction's session (`PgScorecardStore`; a fake in tests)."""

GAUGE_GROUPS = ("queue", "queue_kind", "vendor", "channel")
MAX_GAUGE_ROWS = 10_000
"""Queues x channels of one policy stay far below; a bound all the same."""


def facts_of(
    batch: Sequence[Record[Event]], deliveries: Sequence[Delivery]
) -> tuple[list[DecisionFacts], list[CsatScore]]:
    """The new decisions' scorecard facts and the new CSAT scores of a batch."""
    facts: list[DecisionFacts] = []
    scores: list[CsatScore] = []
    for record, delivery in zip(batch, deliveries, strict=True):
        event = record.event
        if delivery != Delivery.NEW:
            continue
        if isinstance(event, RoutingDecided):
            d = event.data
            facts.append(
                DecisionFacts(
                    d.contact_id, d.decided_at, d.contact_type, d.customer_key, d.cost_per_contact
                )
            )
        elif isinstance(event, ContactLifecycle) and event.data.kind is LifecycleKind.CSAT_RECORDED:
            score = event.data.csat_score
            assert score is not None  # the contract requires it for this kind
            scores.append(CsatScore(event.data.contact_id, score, event.time))
    return facts, scores


async def record(
    store: ScorecardStore,
    batch: Sequence[Record[Event]],
    deliveries: Sequence[Delivery],
    states: Sequence[ContactClocks],
) -> None:
    """The handler's part: the batch's decisions and scores, and the clocks it folded."""
    facts, scores = facts_of(batch, deliveries)
    await store.record(ScorecardUpdate(facts, scored(states), scores))


def scored(states: Sequence[ContactClocks]) -> list[tuple[Decision, Outcomes]]:
    """Each contact's decision and what its clocks say, as the store takes them."""
    return [(s.decision, outcomes(s)) for s in states]


FIGURES = {
    "contacts": "contacts",
    "cost": "cost",
    "cost_per_contact": "cost_per_contact",
    "first_response_avg_s": "first_response_avg_s",
    "first_response_p90_s": "first_response_p90_s",
    "resolved": "resolved",
    "resolution_avg_s": "resolution_avg_s",
    "resolution_p90_s": "resolution_p90_s",
    "csat_responses": "csat_count",
    "csat_avg": "csat_avg",
    "fcr_rate": "fcr_rate",
    "fcr_yes": "fcr_yes",
    "fcr_no": "fcr_no",
    "fcr_pending": "fcr_pending",
    "abandoned": "abandoned",
    "abandonment_rate": "abandonment",
    "breached": "breached",
    "sla_attainment": "sla_attainment",
}
"""Each figure's name in the API and the CSV (its column after the groups) -> the row's attribute."""


def as_json(row: ScorecardRow) -> dict[str, Any]:
    """A group's values and figures by name (None: no data)."""
    return {**row.group, **{name: getattr(row, attr) for name, attr in FIGURES.items()}}


def as_csv(group_by: Sequence[str], rows: Sequence[ScorecardRow]) -> str:
    """One line per group under a header; an empty cell is a figure without data."""
    out = io.StringIO()
    writer = csv.DictWriter(out, [*group_by, *FIGURES], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in as_json(row).items()})
    return out.getvalue()


def export(by_window: Sequence[tuple[int, Sequence[ScorecardRow]]]) -> None:
    """Replace every scorecard gauge's samples with the rows (no await in between)."""
    for gauge in metrics.SCORECARD_GAUGES:
        gauge.clear()
    for window_s, rows in by_window:
        window = format_duration(window_s)
        for r in rows:
            labels = (*(r.group[g] for g in GAUGE_GROUPS), window)
            metrics.SCORECARD_CONTACTS.labels(*labels).set(r.contacts)
            metrics.SCORECARD_COST.labels(*labels).set(r.cost)
            set_known(
                labels,
                (metrics.SCORECARD_COST_PER_CONTACT, r.cost_per_contact),
                (metrics.SCORECARD_FIRST_RESPONSE_AVG, r.first_response_avg_s),
                (metrics.SCORECARD_FIRST_RESPONSE_P90, r.first_response_p90_s),
                (metrics.SCORECARD_RESOLUTION_AVG, r.resolution_avg_s),
                (metrics.SCORECARD_RESOLUTION_P90, r.resolution_p90_s),
                (metrics.SCORECARD_CSAT, r.csat_avg),
                (metrics.SCORECARD_FCR, r.fcr_rate),
                (metrics.SCORECARD_ABANDONMENT, r.abandonment),
                (metrics.SCORECARD_SLA_ATTAINMENT, r.sla_attainment),
            )


async def window_rows(
    sessions: async_sessionmaker[AsyncSession],
    window_s: int,
    now: datetime,
    fcr_window_s: float,
) -> list[ScorecardRow]:
    async with sessions() as session:
        return await PgScorecardStore(session).scorecard(
            ScorecardQuery(
                now - timedelta(seconds=window_s),
                now,
                GAUGE_GROUPS,
                now,
                fcr_window_s,
                MAX_GAUGE_ROWS,
            )
        )


def refresher(
    sessions: async_sessionmaker[AsyncSession],
    windows: Sequence[int],
    fcr_window_s: float,
    every_s: float,
    clock: Clock,
) -> Task:
    """The host task refreshing the scorecard gauges; a failed refresh keeps the last values."""

    async def once() -> None:
        now = clock.now()
        export([(w, await window_rows(sessions, w, now, fcr_window_s)) for w in windows])

    return every("scorecard", once, every_s, clock)
