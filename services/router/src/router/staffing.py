"""Staffing from live volume: agents needed per queue now, as gauges a host task keeps
fresh and as the admin view (`GET /admin/staffing`)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from router import metrics
from router.domain.staffing import QueueStaffing, staffing
from router.repository import PostgresRoutingRepository, RoutingRepository
from router.service import Router
from switchboard_runtime.clock import sleep_unless
from switchboard_runtime.host import Task
from switchboard_runtime.retry import is_transient

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Staffing:
    router: Router
    window_s: float
    max_occupancy: float

    async def now(self, store: RoutingRepository) -> list[QueueStaffing]:
        """Every queue's need and gap for the arrivals of the last window."""
        since = self.router.clock.now() - timedelta(seconds=self.window_s)
        arrivals = await store.arrivals(since)
        return staffing(
            self.router.policies.current.spec, arrivals, self.window_s, self.max_occupancy
        )

    def task(self, sessions: async_sessionmaker[AsyncSession], refresh_s: float) -> Task:
        """The host task that sets the gauges every `refresh_s` until told to stop."""

        async def refresh(stop: asyncio.Event) -> None:
            while not stop.is_set():
                try:
                    async with sessions() as session:
                        publish(await self.now(PostgresRoutingRepository(session)))
                except Exception as exc:
                    if not is_transient(exc):
                        raise
                    # The gauges only lag: the next round computes them again.
                    log.warning(
                        "staffing not refreshed, will retry", extra={"error": repr(exc)[:300]}
                    )
                await sleep_unless(self.router.clock, refresh_s, stop)

        return refresh


def publish(queues: list[QueueStaffing]) -> None:
    # Cleared first: a queue or channel the policy dropped must not linger.
    metrics.AGENTS_NEEDED.clear()
    metrics.STAFFING_GAP.clear()
    for queue in queues:
        metrics.STAFFING_GAP.labels(queue.queue).set(queue.gap)
        for need in queue.channels:
            metrics.AGENTS_NEEDED.labels(queue.queue, need.channel).set(need.agents)
