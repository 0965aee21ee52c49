"""Integration-test support on the real broker and database: a router setup and its runners."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from router_support import MONDAY_10_LONDON
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from router.config import SERVICE, RouterSettings
from router.policies import RoutingPolicies, holder
from router.service import Router
from router.wiring import build_router, decoders
from switchboard_events import ContactEnriched, ContactLifecycle, Event, encode
from switchboard_runtime.runner import BatchRunner, Output
from switchboard_runtime.settings import KafkaSettings
from switchboard_runtime.testing import ManualClock, run_batch, running_runner
from switchboard_runtime.testing.kafka import publish


@dataclass
class RouterSetup:
    settings: RouterSettings
    kafka: KafkaSettings
    policy_path: Path
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    def router(self, policies: RoutingPolicies | None = None) -> Router:
        """A router deciding at Monday 10:00 London (its clock stays there unless moved)."""
        policies = policies or holder(self.policy_path)
        return build_router(self.settings, policies, ManualClock(MONDAY_10_LONDON))

    async def publish(self, topic: str, events: Sequence[Event]) -> None:
        records = [(e.partition_key().encode(), encode(e)) for e in events]
        await publish(self.kafka, topic, records)

    async def handle(
        self, router: Router, events: Sequence[ContactEnriched | ContactLifecycle]
    ) -> Sequence[Output]:
        """Run one batch through the handler in one transaction, as the runner does."""
        return await run_batch(router.handle, self.sessions, events, topic="t")

    async def open_load(self) -> dict[str, int]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT queue_id, count(*) FROM routing.contacts"
                    " WHERE status = 'open' GROUP BY queue_id"
                )
            )
            return {row[0]: row[1] for row in rows}

    async def scalar(self, sql: str) -> Any:
        async with self.engine.connect() as conn:
            return (await conn.execute(text(sql))).scalar()


RunnerFactory = Callable[..., AbstractAsyncContextManager[tuple[Router, BatchRunner[Any]]]]


def runner_factory(setup: RouterSetup) -> RunnerFactory:
    """Runs a router's batch runner as a task in this event loop until the block ends."""

    @asynccontextmanager
    async def running(
        policies: RoutingPolicies | None = None,
    ) -> AsyncIterator[tuple[Router, BatchRunner[Any]]]:
        s = setup.settings
        router = setup.router(policies)
        async with running_runner(
            SERVICE.name, s, decoders(s), router.handle, setup.sessions
        ) as runner:
            yield router, runner

    return running
