"""The router counts a batch's decisions once, when its transaction commits: not for an
attempt rolled back (the runner's retry, or its halving around a bad record), not again
for a replay."""

from __future__ import annotations

from pathlib import Path

import pytest
from router_support import MONDAY_10_LONDON

from router.config import RouterSettings
from router.policies import holder
from router.wiring import build_router
from switchboard_events import ContactEnriched, ContactLifecycle
from switchboard_events.testing import enriched
from switchboard_runtime import db
from switchboard_runtime.runner import Record
from switchboard_runtime.testing import ManualClock, run_batch, sample_total

pytestmark = pytest.mark.integration

EVENTS: list[ContactEnriched | ContactLifecycle] = [enriched(f"c{i}") for i in range(10)]
"""8 to the in-house queue, 2 overflowed to the vendor."""
COUNTED = {
    "switchboard_router_decisions_total": 10.0,
    "switchboard_router_overflows_total": 2.0,
    "switchboard_router_decision_latency_seconds_count": 10.0,
}
"""What EVENTS, decided once, add to each metric (over all its labels)."""


def counted() -> dict[str, float]:
    return {name: sample_total(name) for name in COUNTED}


def added(before: dict[str, float]) -> dict[str, float]:
    return {name: value - before[name] for name, value in counted().items()}


async def test_a_batch_is_counted_once_when_it_commits_whatever_retries_and_replays(
    policy_path: Path, database_url: str
) -> None:
    router = build_router(
        RouterSettings(policy_path=policy_path),
        holder(policy_path),
        ManualClock(MONDAY_10_LONDON),
    )
    batch: list[Record[ContactEnriched | ContactLifecycle]] = [
        Record("t", 0, i, None, 0, e) for i, e in enumerate(EVENTS)
    ]
    engine = db.make_engine(database_url)
    sessions = db.make_sessionmaker(engine)
    try:
        before = counted()
        async with sessions() as session:
            attempt = await session.begin()
            assert len(await router.handle(batch, session)) == 10 + 2  # and the vendor's topic
            await attempt.rollback()
        assert added(before) == dict.fromkeys(COUNTED, 0.0), "a rolled-back attempt counts 0"
        await run_batch(router.handle, sessions, EVENTS, topic="t")
        assert added(before) == COUNTED, "the committed attempt counts once"
        await run_batch(router.handle, sessions, EVENTS, topic="t")  # a replay
        assert added(before) == COUNTED, "a replay adds nothing"
    finally:
        await engine.dispose()
