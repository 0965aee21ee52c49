"""The handler's counters count a batch once, when its transaction commits: not for an
attempt rolled back (the runner's retry, or its halving around a bad record), not again
for a replay."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from prometheus_client import REGISTRY
from sla_support import records, short_policy_yaml

from sla_monitor.config import SlaSettings
from sla_monitor.service import SlaHandler
from sla_monitor.wiring import policies
from switchboard_events import Event
from switchboard_events.testing import T0, decided, lifecycle
from switchboard_runtime import db
from switchboard_runtime.testing import ManualClock, run_batch

Sample = tuple[str, tuple[tuple[str, str], ...]]
"""A counter's name and labels."""

EVENTS: list[Event] = [
    decided("a"),  # a call: warning, breach, escalation, resolution breach
    decided("b", channel="email"),  # warning, breach, resolution breach
    lifecycle("a", "assigned", T0 + timedelta(seconds=0.5)),
    lifecycle("z", "first_response", T0 + timedelta(seconds=1)),  # before z's decision
]
COUNTED: dict[Sample, float] = {
    ("switchboard_sla_decisions_total", ()): 2.0,
    ("switchboard_sla_lifecycle_steps_total", (("kind", "assigned"),)): 1.0,
    ("switchboard_sla_lifecycle_steps_total", (("kind", "first_response"),)): 1.0,
    ("switchboard_sla_steps_before_decision_total", ()): 1.0,
    ("switchboard_sla_timers_scheduled_total", ()): 7.0,
}
"""What EVENTS, applied once, add to each counter (with its labels)."""


def counted() -> dict[Sample, float]:
    return {
        (name, labels): REGISTRY.get_sample_value(name, dict(labels)) or 0.0
        for name, labels in COUNTED
    }


def added(before: dict[Sample, float]) -> dict[Sample, float]:
    return {key: value - before[key] for key, value in counted().items()}


async def test_a_batch_is_counted_once_when_it_commits_whatever_retries_and_replays(
    tmp_path: Path, database_url: str
) -> None:
    path = tmp_path / "sla.yaml"
    path.write_text(short_policy_yaml(T0.date()))
    engine = db.make_engine(database_url)
    sessions = db.make_sessionmaker(engine)
    try:
        handler = SlaHandler(policies(SlaSettings(policy_path=path), sessions, ManualClock()))
        before = counted()
        async with sessions() as session:
            attempt = await session.begin()
            await handler(records(EVENTS), session)
            await attempt.rollback()
        assert added(before) == dict.fromkeys(COUNTED, 0.0), "a rolled-back attempt counts 0"
        await run_batch(handler, sessions, EVENTS)
        assert added(before) == COUNTED, "the committed attempt counts once"
        await run_batch(handler, sessions, EVENTS)  # the same events again: a replay
        assert added(before) == COUNTED, "a replay adds nothing"
    finally:
        await engine.dispose()
