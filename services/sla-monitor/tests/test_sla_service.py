"""The handler on the in-memory clock store: what a batch of decisions and steps does to the
contacts and their timers (no broker, no database; the store's contract is checked in
test_sla_repository_contract.py)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sla_fakes import FakeClockStore, fake_handler, no_session
from sla_scorecard_fakes import FakeScorecardStore
from sla_support import records

from sla_monitor.service import SlaHandler
from switchboard_events.testing import T0, decided, lifecycle


@pytest.fixture
def store() -> FakeClockStore:
    return FakeClockStore()


@pytest.fixture
def handler(tmp_path: Path, store: FakeClockStore) -> SlaHandler:
    return fake_handler(tmp_path, store, FakeScorecardStore())


def timers(store: FakeClockStore, contact: str) -> list[tuple[str, str]]:
    return sorted((key[1], key[2]) for key in store.timers if key[0] == contact)


async def test_a_call_schedules_its_levels_and_a_replay_changes_nothing(
    handler: SlaHandler, store: FakeClockStore
) -> None:
    batch = records([decided("c", arrived_at=T0)])
    assert await handler(batch, no_session()) == [], "the handler produces nothing itself"
    expected = [
        ("first_response", "breach"),
        ("first_response", "escalation"),
        ("first_response", "warning"),
        ("resolution", "breach"),
    ]
    assert timers(store, "c") == expected
    store.timers.clear()
    await handler(batch, no_session())
    assert timers(store, "c") == [], "the same records again are not applied again"


async def test_steps_before_their_decision_are_kept_and_applied_when_it_comes(
    handler: SlaHandler, store: FakeClockStore
) -> None:
    answered = lifecycle("c", "first_response", T0 + timedelta(seconds=0.5))
    await handler(records([answered]), no_session())
    assert [cid for cid, _ in store.lifecycle] == ["c"]
    assert store.timers == {}, "no decision yet: no clock"
    await handler(records([decided("c", arrived_at=T0)], first=1), no_session())
    assert timers(store, "c") == [("resolution", "breach")], "answered in time"


async def test_an_alert_already_fired_is_not_scheduled_again(
    handler: SlaHandler, store: FakeClockStore
) -> None:
    store.fired.add(("c", "first_response", "warning", 1, 1, ""))
    await handler(records([decided("c", arrived_at=T0)]), no_session())
    assert ("first_response", "warning") not in timers(store, "c")
    assert store.contacts["c"].policy_version == handler.policies.current.version
