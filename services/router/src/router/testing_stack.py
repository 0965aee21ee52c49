"""Integration-test support on the real broker and database: a router setup and its runners."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from router.config import RouterSettings
from router.consumer import build_router, decoders
from router.policy_store import PolicyHolder
from router.service import Router
from router.testing import MONDAY_10_LONDON
from switchboard_events import Event, encode
from switchboard_runtime.runner import BatchRunner, Output, Record
from switchboard_runtime.settings import KafkaSettings
from switchboard_runtime.testing.kafka import publish
from switchboard_runtime.testing.runner import running_runner


@dataclass
class RouterSetup:
    settings: RouterSettings
    kafka: KafkaSettings
    policy_path: Path
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    def router(self, policies: PolicyHolder | None = None) -> Router:
        router = build_router(self.settings, policies or PolicyHolder.from_file(self.policy_path))
        router.clock = lambda: MONDAY_10_LONDON
        return router

    async def publish(self, topic: str, events: Sequence[Event]) -> None:
        records = [(e.partition_key().encode(), encode(e)) for e in events]
        await publish(self.kafka, topic, records)

    async def handle(self, router: Router, events: Sequence[Event]) -> Sequence[Output]:
        """Run one batch through the handler in one transaction, as the runner does."""
        batch = [Record("t", 0, i, None, 0, e) for i, e in enumerate(events)]
        async with self.sessions() as session, session.begin():
            return await router.handle(batch, session)  # type: ignore[arg-type]

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
        policies: PolicyHolder | None = None,
    ) -> AsyncIterator[tuple[Router, BatchRunner[Any]]]:
        s = setup.settings
        router = setup.router(policies)
        async with running_runner(
            "router", s, decoders(s), router.handle, setup.sessions
        ) as runner:
            yield router, runner

    return running
