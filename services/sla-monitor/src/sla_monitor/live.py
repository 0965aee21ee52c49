"""The live service level and OLA attainment: two queries per refresh, exported as gauges
and served by the API."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sla_monitor import metrics
from sla_monitor.domain.durations import format_duration
from sla_monitor.repository.reads import OlaRow, PgReadStore, ServiceLevelRow
from switchboard_runtime.clock import Clock, sleep_unless
from switchboard_runtime.host import Task
from switchboard_runtime.retry import is_transient

log = logging.getLogger(__name__)


def window_label(seconds: int) -> str:
    return format_duration(seconds)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One refresh: the service level per queue and channel, the OLA attainment per team."""

    rows: Sequence[ServiceLevelRow]
    olas: Sequence[OlaRow]


def olas_json(olas: Sequence[OlaRow]) -> list[dict[str, Any]]:
    return [
        {
            "window": window_label(o.window_s),
            "team": o.team,
            "attainment": o.attainment,
            "handovers": o.handovers,
            "met": o.met,
            "missed": o.missed,
        }
        for o in olas
    ]


def as_json(rows: Sequence[ServiceLevelRow]) -> list[dict[str, Any]]:
    return [
        {
            "window": window_label(r.window_s),
            "queue": r.queue_id,
            "channel": r.channel,
            "service_level": r.service_level,
            "contacts": r.arrived,
            "met": r.met,
            "missed": r.missed,
            "first_response_avg_s": r.first_response_avg_s,
            "first_response_p90_s": r.first_response_p90_s,
            "abandoned": r.abandoned,
            "abandonment_rate": r.abandonment,
            "open_contacts": r.open_contacts,
            "oldest_waiting_s": r.oldest_waiting_s,
            "breaches": r.breaches,
        }
        for r in rows
    ]


def export(snapshot: Snapshot) -> None:
    """Replace every live gauge's samples with the snapshot's (no await in between: scrapes
    see all or none)."""
    for gauge in (*metrics.LIVE_GAUGES, metrics.OPEN_CONTACTS, metrics.OLDEST_WAITING):
        gauge.clear()
    for o in snapshot.olas:
        metrics.OLA_HANDOVERS.labels(o.team, window_label(o.window_s)).set(o.handovers)
        if o.attainment is not None:
            metrics.OLA_ATTAINMENT.labels(o.team, window_label(o.window_s)).set(o.attainment)
    for r in snapshot.rows:
        labels = (r.queue_id, r.channel, window_label(r.window_s))
        metrics.CONTACTS.labels(*labels).set(r.arrived)
        metrics.BREACHES.labels(*labels).set(r.breaches)
        for gauge, value in (
            (metrics.SERVICE_LEVEL, r.service_level),
            (metrics.FIRST_RESPONSE_AVG, r.first_response_avg_s),
            (metrics.FIRST_RESPONSE_P90, r.first_response_p90_s),
            (metrics.ABANDONMENT, r.abandonment),
        ):
            if value is not None:
                gauge.labels(*labels).set(value)
        metrics.OPEN_CONTACTS.labels(r.queue_id, r.channel).set(r.open_contacts)
        if r.oldest_waiting_s is not None:
            metrics.OLDEST_WAITING.labels(r.queue_id, r.channel).set(r.oldest_waiting_s)


async def snapshot(
    sessions: async_sessionmaker[AsyncSession], windows: Sequence[int], now: datetime
) -> Snapshot:
    async with sessions() as session:
        reads = PgReadStore(session)
        return Snapshot(
            await reads.service_level(windows, now), await reads.ola_attainment(windows, now)
        )


def refresher(
    sessions: async_sessionmaker[AsyncSession],
    windows: Sequence[int],
    every_s: float,
    clock: Clock,
) -> Task:
    """The host task refreshing the gauges every `every_s`; a failed refresh keeps the last values."""

    async def refresh(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                export(await snapshot(sessions, windows, clock.now()))
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.warning("live service level: refresh failed", extra={"error": repr(exc)[:300]})
            await sleep_unless(clock, every_s, stop)

    return refresh
