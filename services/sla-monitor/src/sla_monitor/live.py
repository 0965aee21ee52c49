"""The live service level and OLA attainment: two queries per refresh, exported as gauges
and served by the API."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import Gauge
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


_OLA_FIELDS = {name: name for name in ("team", "attainment", "handovers", "met", "missed")}
_SERVICE_LEVEL_FIELDS = {
    "queue": "queue_id",
    "channel": "channel",
    "service_level": "service_level",
    "contacts": "arrived",
    "met": "met",
    "missed": "missed",
    "first_response_avg_s": "first_response_avg_s",
    "first_response_p90_s": "first_response_p90_s",
    "abandoned": "abandoned",
    "abandonment_rate": "abandonment",
    "open_contacts": "open_contacts",
    "oldest_waiting_s": "oldest_waiting_s",
    "breaches": "breaches",
}
"""The API's name of each attribute of a row (after its window)."""


def _json(rows: Sequence[OlaRow | ServiceLevelRow], fields: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "window": window_label(r.window_s),
            **{key: getattr(r, name) for key, name in fields.items()},
        }
        for r in rows
    ]


def olas_json(olas: Sequence[OlaRow]) -> list[dict[str, Any]]:
    return _json(olas, _OLA_FIELDS)


def as_json(rows: Sequence[ServiceLevelRow]) -> list[dict[str, Any]]:
    return _json(rows, _SERVICE_LEVEL_FIELDS)


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
        set_known(
            labels,
            (metrics.SERVICE_LEVEL, r.service_level),
            (metrics.FIRST_RESPONSE_AVG, r.first_response_avg_s),
            (metrics.FIRST_RESPONSE_P90, r.first_response_p90_s),
            (metrics.ABANDONMENT, r.abandonment),
        )
        metrics.OPEN_CONTACTS.labels(r.queue_id, r.channel).set(r.open_contacts)
        if r.oldest_waiting_s is not None:
            metrics.OLDEST_WAITING.labels(r.queue_id, r.channel).set(r.oldest_waiting_s)


def set_known(labels: Sequence[str], *figures: tuple[Gauge, float | None]) -> None:
    """Set each gauge's sample for `labels` to its figure; an unknown figure (None: no
    contacts to take it from) gets no sample."""
    for gauge, value in figures:
        if value is not None:
            gauge.labels(*labels).set(value)


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

    async def once() -> None:
        export(await snapshot(sessions, windows, clock.now()))

    return every("live service level", once, every_s, clock)


def every(what: str, refresh: Callable[[], Awaitable[None]], every_s: float, clock: Clock) -> Task:
    """A host task calling `refresh` every `every_s` of `clock` until stopped; a transient
    failure is logged (naming `what`) and the next round tries again, anything else stops it."""

    async def loop(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await refresh()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.warning("%s: refresh failed", what, extra={"error": repr(exc)[:300]})
            await sleep_unless(clock, every_s, stop)

    return loop
