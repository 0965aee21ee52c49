"""Business time on a calendar that closes for good (no opening within its horizon, three
years): the levels out of its reach never fall due, instead of the fold raising
`CalendarExhausted` (which stopped the stream)."""

from __future__ import annotations

import functools
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sla_fakes import NO_SESSIONS, FakeClockStore, no_session
from sla_scorecard_fakes import FakeScorecardStore
from sla_support import policy_of, records

from sla_monitor.config import SlaSettings
from sla_monitor.domain.clock import Decision, QueueRef, Step, fold
from sla_monitor.domain.compiled import SlaPolicy
from sla_monitor.domain.explain import explain, render
from sla_monitor.domain.status import LevelState, status
from sla_monitor.service import SlaHandler
from sla_monitor.wiring import policies
from switchboard_events import AlertKind, Channel, LifecycleKind, QueueKind
from switchboard_events.testing import T0, decided
from switchboard_runtime.testing import ManualClock

START = T0.timestamp()
"""Monday 3 March 2025, 09:00 UTC."""
HOUR = 3600.0
WEEK = 7 * 24 * HOUR


def policy_yaml(calendar: str, open_mondays: int, target_minutes: int = 240) -> str:
    """Queue `closing` counts by `calendar`: UTC Mondays 09:00-17:00, the first
    `open_mondays` from START open, every later one for 160 weeks (past the horizon) a
    holiday. Queue `general` is 24x7."""
    first = date(2025, 3, 3) + timedelta(weeks=open_mondays)
    mondays = ", ".join(str(first + timedelta(weeks=w)) for w in range(160))
    return (
        "calendars:\n"
        f"  - {{id: {calendar}, timezone: UTC, weekly: {{mon: ['09:00-17:00']}},"
        f" holidays: [{mondays}]}}\n"
        "  - {id: always, always_open: true}\n"
        "queues:\n"
        f"  - {{id: closing, kind: in_house, calendar: {calendar}}}\n"
        "  - {id: general, kind: in_house, calendar: always}\n"
        "default_calendars: {in_house: always, outsourced: always}\n"
        "default:\n"
        f"  first_response: {{target: {target_minutes}m, warnings: [{{share: 50%}}],"
        " escalations: [1h]}\n"
        "  resolution: {target: 1d}\n"
    )


def decision(queue: str = "closing", at: float = START, contact: str = "c1") -> Decision:
    return Decision(
        contact, QueueRef(queue, QueueKind.IN_HOUSE, None), 500, "P2", Channel.EMAIL, None, at
    )


def test_a_target_its_calendar_never_reaches_never_falls_due(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Closed for good from START: no alert is scheduled, the status and explain say why,
    the calendar is logged once however often it is folded."""
    policy = policy_of(policy_yaml("closed-for-good", 0))
    with caplog.at_level("WARNING", logger="sla_monitor.domain.clock"):
        for _ in range(2):
            state = fold(decision(), [], policy)
            assert state.pending_alerts() == []
    (logged,) = [r for r in caplog.records if getattr(r, "calendar", None) == "closed-for-good"]
    assert "no open time" in logged.__dict__["reason"]
    shown = status(state, START + HOUR)
    for target in shown.targets:
        assert target.due_at is None
        assert "closed-for-good" in (target.never_due or "")
        assert {a.state for a in target.alerts} == {LevelState.NEVER}
        assert {a.reached_at for a in target.alerts} == {None}
    text = render(explain(policy, decision(), [], START + HOUR))
    assert "calendar closed-for-good has no open time for 1098 days" in text
    paused = fold(decision(), [Step(LifecycleKind.WAITING_ON_CUSTOMER, START + HOUR)], policy)
    assert [t.never_due for t in status(paused, START + 2 * HOUR).targets] == [None, None], (
        "paused: not due while paused, as on any calendar"
    )
    moved = fold(decision(), [Step(LifecycleKind.TRANSFERRED, START + HOUR, 1, "general")], policy)
    (breach,) = [
        p.fire_at
        for p in moved.pending_alerts()
        if p.kind is AlertKind.BREACH and p.target.value == "first_response"
    ]
    assert breach == START + 5 * HOUR, "transferred to a 24x7 queue: due 4 h after the move"


def open_time(at: float, open_mondays: int) -> list[tuple[float, float]]:
    """The reference: the open intervals from `at` on, Mondays 09:00-17:00 UTC from START."""
    spans = [(START + w * WEEK, START + w * WEEK + 8 * HOUR) for w in range(open_mondays)]
    return [(max(s, at), e) for s, e in spans if e > at]


def reached(at: float, open_mondays: int, seconds: float) -> float | None:
    """When `seconds` of business time from `at` are counted, by the reference; None: never."""
    for s, e in open_time(at, open_mondays):
        if e - s >= seconds:
            return s + seconds
        seconds -= e - s
    return None


@functools.cache
def horizon_policy(open_mondays: int, target_minutes: int) -> SlaPolicy:
    return policy_of(policy_yaml(f"closing-{open_mondays}", open_mondays, target_minutes))


@settings(max_examples=60, deadline=None)
@given(
    open_mondays=st.integers(0, 3),
    arrival_minutes=st.integers(0, 3 * 7 * 24 * 60),
    target_minutes=st.sampled_from([1, 60, 239, 240, 480, 481, 960, 1500]),
)
def test_only_levels_within_the_calendar_s_reach_are_scheduled(
    open_mondays: int, arrival_minutes: int, target_minutes: int
) -> None:
    """Each level is scheduled at the reference's instant if the open time left reaches it,
    and then only if its target does; the status says the same of every level."""
    policy = horizon_policy(open_mondays, target_minutes)
    arrival = START + 60 * arrival_minutes
    state = fold(decision(at=arrival), [], policy)
    pending = {(p.target.value, p.kind, p.level): p for p in state.pending_alerts()}
    shown = {t.target: t for t in status(state, arrival).targets}
    for name, clock in ((t.value, state.current(t)) for t in state.clocks):
        assert clock is not None
        due = reached(arrival, open_mondays, clock.target.seconds)
        assert (shown[name].never_due is None) == (due is not None)
        for level, seen in zip(clock.target.levels, shown[name].alerts, strict=True):
            at = reached(arrival, open_mondays, level.threshold)
            alert = pending.get((name, level.kind, level.number))
            if at is None or due is None:
                assert (alert, seen.state) == (None, LevelState.NEVER)
            else:
                assert alert is not None
                assert (alert.fire_at, alert.due_at) == (at, due)
                assert seen.state in (LevelState.DUE, LevelState.SCHEDULED)


async def test_the_handler_applies_the_batch_and_the_other_contacts_alerts_are_scheduled(
    tmp_path: Path,
) -> None:
    """One contact in the queue whose calendar closed for good, one in a 24x7 queue, in one
    batch: no exception stops the stream, both are stored, only the second gets timers."""
    path = tmp_path / "sla.yaml"
    path.write_text(policy_yaml("closed-for-good-too", 0))
    store = FakeClockStore()
    holder = policies(SlaSettings(policy_path=path), NO_SESSIONS, ManualClock())
    handler = SlaHandler(holder, store, FakeScorecardStore())
    batch = records(
        [
            decided("stuck", queue_id="closing", channel="email"),
            decided("fine", queue_id="general", channel="email"),
        ]
    )
    assert await handler(batch, no_session()) == []
    assert {cid: c.status for cid, c in store.contacts.items()} == {"stuck": "open", "fine": "open"}
    timers = sorted((k[0], k[1], k[2], p.send_at - START) for k, (p, _) in store.timers.items())
    assert timers == [
        ("fine", "first_response", "breach", 4 * HOUR),
        ("fine", "first_response", "escalation", 5 * HOUR),
        ("fine", "first_response", "warning", 2 * HOUR),
        ("fine", "resolution", "breach", 24 * HOUR),
    ]
