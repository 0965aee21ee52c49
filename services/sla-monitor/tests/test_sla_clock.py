"""The clock fold: every target type, pauses, reopen, abandon, out-of-order steps, levels."""

from __future__ import annotations

import itertools
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sla_support import brute_open, office_calendar, policy_of

from sla_monitor.domain.alerts import alert_id, build_alert, main_wait
from sla_monitor.domain.clock import (
    ClockStatus,
    ContactStatus,
    Decision,
    FirstResponse,
    PendingAlert,
    QueueRef,
    Step,
    fold,
)
from sla_monitor.domain.compiled import SlaPolicy
from sla_monitor.domain.explain import explain, render
from sla_monitor.domain.status import FiredRecord, LevelState, status
from switchboard_calendars import instant
from switchboard_events import (
    AlertKind,
    Channel,
    LifecycleKind,
    QueueKind,
    SlaTarget,
    derive_id,
)
from switchboard_events.sla import WaitCause

POLICY = (
    "\ncalendars:\n"
    + office_calendar("2026-12-25")
    + """  - id: always
    always_open: true
queues:
  - {id: general, kind: in_house, calendar: office}
  - {id: vendor, kind: outsourced, vendor: acme, calendar: always}
default_calendars: {in_house: office, outsourced: always}
rules:
  - id: call
    match: {channel: call}
    first_response: {target: 20s, clock: calendar, warnings: [{share: 50%}], escalations: [10s, 30s]}
    next_response: {target: 30s, clock: calendar, warnings: [{before: 10s}]}
    resolution: {target: 100s, clock: calendar}
  - id: email
    match: {channel: email}
    first_response: {target: 4h, warnings: [{share: 75%}], escalations: [1h]}
default:
  first_response: {target: 1h}
  next_response: {target: 2h}
  resolution: {target: 1d, warnings: [{share: 50%}]}
"""
)

T0 = datetime.fromisoformat("2026-03-02T10:00:00+00:00").timestamp()  # a Monday, 10:00 GMT
seq = itertools.count()


@pytest.fixture(scope="module")
def policy() -> SlaPolicy:
    return policy_of(POLICY)


def decision(channel: Channel = Channel.CALL, queue: str = "general", at: float = T0) -> Decision:
    kind = QueueKind.OUTSOURCED if queue == "vendor" else QueueKind.IN_HOUSE
    ref = QueueRef(queue, kind, "acme" if kind is QueueKind.OUTSOURCED else None)
    return Decision("c1", ref, 500, "P2", channel, None, at)


def step(kind: str, after: float, **kw: str) -> Step:
    return Step(LifecycleKind(kind), T0 + after, next(seq), **kw)


def alerts(pending: list[PendingAlert]) -> list[tuple[str, str, int, float]]:
    return sorted((p.target.value, p.kind.value, p.level, p.fire_at - T0) for p in pending)


def test_a_new_call_schedules_warning_breach_escalations_in_order(policy: SlaPolicy) -> None:
    state = fold(decision(), [], policy)
    fr = [a for a in alerts(state.pending_alerts()) if a[0] == "first_response"]
    assert fr == [
        ("first_response", "breach", 1, 20.0),
        ("first_response", "escalation", 1, 30.0),
        ("first_response", "escalation", 2, 50.0),
        ("first_response", "warning", 1, 10.0),
    ]
    times = sorted(fr, key=lambda a: a[3])
    assert [a[1] for a in times] == ["warning", "breach", "escalation", "escalation"]
    assert all(
        p.due_at == T0 + 20 for p in state.pending_alerts() if p.target is SlaTarget.FIRST_RESPONSE
    )
    assert SlaTarget.NEXT_RESPONSE not in state.clocks, "next response waits for a customer reply"


def test_first_response_met_schedules_nothing_more_for_it(policy: SlaPolicy) -> None:
    state = fold(decision(), [step("first_response", 15)], policy)
    assert not [p for p in state.pending_alerts() if p.target is SlaTarget.FIRST_RESPONSE]
    assert state.first_response_outcome() == (FirstResponse.MET, None, 15.0)
    late = fold(decision(), [step("first_response", 25)], policy)
    assert late.first_response_outcome()[0] is FirstResponse.MISSED


def test_each_next_response_cycle_numbers_its_levels_from_one(policy: SlaPolicy) -> None:
    steps = [
        step("first_response", 5),
        step("customer_replied", 10),
        step("agent_replied", 20),
        step("customer_replied", 40),
    ]
    state = fold(decision(), steps, policy)
    cycles = state.clocks[SlaTarget.NEXT_RESPONSE]
    assert [c.status for c in cycles] == [ClockStatus.MET, ClockStatus.RUNNING]
    assert [c.cycle for c in cycles] == [1, 2]
    nr = [p for p in state.pending_alerts() if p.target is SlaTarget.NEXT_RESPONSE]
    # Second cycle: its warning 1 (20 s after the reply) and breach 1 (30 s after it).
    assert sorted((p.cycle, p.kind.value, p.level, p.fire_at - T0) for p in nr) == [
        (2, "breach", 1, 70.0),
        (2, "warning", 1, 60.0),
    ]


def test_a_second_customer_reply_does_not_restart_a_running_next_response(
    policy: SlaPolicy,
) -> None:
    steps = [step("first_response", 5), step("customer_replied", 10), step("customer_replied", 25)]
    state = fold(decision(), steps, policy)
    assert len(state.clocks[SlaTarget.NEXT_RESPONSE]) == 1
    assert state.clocks[SlaTarget.NEXT_RESPONSE][0].started_at == T0 + 10


def test_pauses_are_counted_exactly_over_many_cycles(policy: SlaPolicy) -> None:
    steps = []
    for i in range(5):  # five pauses of 7 s each, 2 s apart
        steps += [step("waiting_on_customer", 1 + 9 * i), step("resumed", 8 + 9 * i)]
    state = fold(decision(), steps, policy)
    clock = state.current(SlaTarget.FIRST_RESPONSE)
    assert clock is not None
    assert clock.elapsed(T0 + 100) == pytest.approx(100 - 35)
    (breach,) = [
        p
        for p in state.pending_alerts()
        if p.kind is AlertKind.BREACH and p.target is SlaTarget.FIRST_RESPONSE
    ]
    assert breach.fire_at == pytest.approx(T0 + 20 + 35)


def test_while_paused_only_levels_already_reached_are_scheduled(policy: SlaPolicy) -> None:
    state = fold(decision(), [step("waiting_on_customer", 12)], policy)
    assert state.paused
    fr = [a for a in alerts(state.pending_alerts()) if a[0] == "first_response"]
    assert fr == [("first_response", "warning", 1, 10.0)]
    resumed = fold(
        decision(), [step("waiting_on_customer", 12), step("customer_replied", 100)], policy
    )
    assert not resumed.paused
    fr = [a for a in alerts(resumed.pending_alerts()) if a[0] == "first_response"]
    assert ("first_response", "breach", 1, 108.0) in fr


def test_resolved_stops_everything_and_reopen_starts_a_new_resolution(policy: SlaPolicy) -> None:
    resolved = fold(decision(), [step("first_response", 5), step("resolved", 50)], policy)
    assert resolved.status is ContactStatus.RESOLVED
    assert resolved.pending_alerts() == []
    reopened = fold(
        decision(), [step("first_response", 5), step("resolved", 50), step("reopened", 200)], policy
    )
    assert reopened.status is ContactStatus.OPEN
    res = [p for p in reopened.pending_alerts() if p.target is SlaTarget.RESOLUTION]
    assert [(p.cycle, p.kind.value, p.level, p.fire_at - T0) for p in res] == [
        (2, "breach", 1, 300.0)
    ], "a fresh 100 s target: the second cycle's own breach 1"
    assert [c.status for c in reopened.clocks[SlaTarget.RESOLUTION]] == [
        ClockStatus.MET,
        ClockStatus.RUNNING,
    ]


def test_abandoned_stops_everything_and_counts(policy: SlaPolicy) -> None:
    state = fold(decision(), [step("abandoned", 8)], policy)
    assert state.status is ContactStatus.ABANDONED
    assert state.abandoned_at == T0 + 8
    assert state.pending_alerts() == []
    assert state.first_response_outcome()[0] is FirstResponse.EXCLUDED
    late = fold(decision(), [step("abandoned", 30)], policy)
    assert late.first_response_outcome()[0] is FirstResponse.MISSED
    # Nothing after an abandon changes it (but a reopen after a resolve does).
    after = fold(
        decision(),
        [step("abandoned", 8), step("reopened", 9), step("customer_replied", 10)],
        policy,
    )
    assert after.status is ContactStatus.ABANDONED
    assert after.pending_alerts() == []


def test_out_of_order_steps_give_the_same_state(policy: SlaPolicy) -> None:
    steps = [
        step("waiting_on_customer", 3),
        step("resumed", 9),
        step("first_response", 12),
        step("customer_replied", 14),
        step("agent_replied", 30),
    ]
    forward = fold(decision(), steps, policy)
    backward = fold(decision(), list(reversed(steps)), policy)
    assert alerts(forward.pending_alerts()) == alerts(backward.pending_alerts())
    assert forward.first_response_outcome() == backward.first_response_outcome()


def test_steps_dated_before_arrival_count_at_arrival(policy: SlaPolicy) -> None:
    state = fold(decision(), [step("first_response", -5)], policy)
    assert state.first_response_outcome() == (FirstResponse.MET, None, 0.0)


def test_business_time_email_waits_for_office_hours(policy: SlaPolicy) -> None:
    friday_4pm = datetime.fromisoformat("2026-03-06T16:00:00+00:00").timestamp()
    state = fold(decision(Channel.EMAIL, at=friday_4pm), [], policy)
    (breach,) = [
        p
        for p in state.pending_alerts()
        if p.kind is AlertKind.BREACH and p.target is SlaTarget.FIRST_RESPONSE
    ]
    # 1 h on Friday, 3 h on Monday from 09:00 GMT.
    assert breach.fire_at == datetime.fromisoformat("2026-03-09T12:00:00+00:00").timestamp()
    vendor = fold(decision(Channel.EMAIL, queue="vendor", at=friday_4pm), [], policy)
    (breach,) = [
        p
        for p in vendor.pending_alerts()
        if p.kind is AlertKind.BREACH and p.target is SlaTarget.FIRST_RESPONSE
    ]
    assert breach.fire_at == friday_4pm + 4 * 3600, "the vendor works 24x7"
    assert breach.queue.vendor == "acme"


def test_transfer_moves_the_queue_and_its_calendar(policy: SlaPolicy) -> None:
    friday_4pm = datetime.fromisoformat("2026-03-06T16:00:00+00:00").timestamp()
    xfer = Step(LifecycleKind.TRANSFERRED, friday_4pm + 1800, 1, to_queue_id="vendor")
    state = fold(decision(Channel.EMAIL, at=friday_4pm), [xfer], policy)
    assert state.queue.id == "vendor"
    (breach,) = [
        p
        for p in state.pending_alerts()
        if p.kind is AlertKind.BREACH and p.target is SlaTarget.FIRST_RESPONSE
    ]
    assert breach.fire_at == friday_4pm + 4 * 3600, "30 min in the office, then 3.5 h at the vendor"
    unknown = Step(LifecycleKind.TRANSFERRED, friday_4pm + 1800, 1, to_queue_id="nowhere")
    assert fold(decision(Channel.EMAIL, at=friday_4pm), [unknown], policy).queue.id == "general"


def test_status_and_explain_tell_the_story(policy: SlaPolicy) -> None:
    state = fold(decision(), [step("waiting_on_customer", 5)], policy)
    shown = status(state, T0 + 60)
    fr = next(t for t in shown.targets if t.target == "first_response")
    assert fr.paused
    assert fr.elapsed_seconds == 5.0
    assert fr.remaining_seconds == 15.0
    assert fr.paused_seconds == 55.0
    assert fr.due_at is None, "paused before the target: its due time moves with the pause"
    assert {a.state for a in fr.alerts} == {LevelState.NOT_REACHED}
    told = explain(policy, decision(), [], T0)
    fr_target = next(t for t in told["targets"] if t["target"] == "first_response")
    assert fr_target["rule"] == "call"
    assert [c["rule"] for c in fr_target["candidates"]] == ["call", "default"]
    text = render(told)
    assert "first_response: 20s of calendar time, set by rule call" in text


def test_status_lists_each_level_once_fired_or_not_and_names_its_times(policy: SlaPolicy) -> None:
    state = fold(decision(), [], policy)  # a call: 20 s, warning at 10 s, escalations +10, +30 s
    fired = [
        FiredRecord(
            "first_response",
            "warning",
            1,
            1,
            alert_id("c1", "first_response", "warning", 1),
            instant(T0 + 10),
            instant(T0 + 10.2),
            True,
        )
    ]
    shown = status(state, T0 + 25, fired)
    fr = next(t for t in shown.targets if t.target == "first_response")
    assert fr.due_at == instant(T0 + 20), "the target's due time, not an alert's"
    assert fr.breached
    assert fr.paused_seconds == 0
    levels = [(a.kind, a.level, a.reached_at, a.state, a.fired_at) for a in fr.alerts]
    assert levels == [
        ("warning", 1, instant(T0 + 10), LevelState.FIRED, instant(T0 + 10.2)),
        ("breach", 1, instant(T0 + 20), LevelState.DUE, None),
        ("escalation", 1, instant(T0 + 30), LevelState.SCHEDULED, None),
        ("escalation", 2, instant(T0 + 50), LevelState.SCHEDULED, None),
    ]
    assert shown.other_alerts == []
    answered = fold(decision(), [step("first_response", 15)], policy)
    fr = next(t for t in status(answered, T0 + 25, fired).targets if t.target == "first_response")
    assert fr.status == "met"
    assert fr.due_at == instant(T0 + 20), "when it would have been due"
    assert [a.state for a in fr.alerts] == [
        LevelState.FIRED,
        LevelState.NOT_REACHED,
        LevelState.NOT_REACHED,
        LevelState.NOT_REACHED,
    ]


def test_every_reopen_is_a_cycle_with_its_own_levels_and_ids(policy: SlaPolicy) -> None:
    steps = [  # a call: resolution 100 s of calendar time, a breach and no warnings
        step("first_response", 5),
        step("resolved", 150),
        step("reopened", 200),
        step("resolved", 250),
        step("reopened", 300),
    ]
    state = fold(decision(), steps, policy)
    clocks = state.clocks[SlaTarget.RESOLUTION]
    assert [(c.cycle, c.status) for c in clocks] == [
        (1, ClockStatus.MET),
        (2, ClockStatus.MET),
        (3, ClockStatus.RUNNING),
    ]
    res = [p for p in state.pending_alerts() if p.target is SlaTarget.RESOLUTION]
    assert [(p.cycle, p.kind.value, p.level, p.fire_at - T0) for p in res] == [
        (3, "breach", 1, 400.0)
    ]
    ids = {alert_id("c1", "resolution", "breach", 1, cycle) for cycle in (1, 2, 3)}
    assert alert_id(*res[0].key) in ids
    assert len(ids) == 3, "each cycle's breach has its own id"


def test_first_cycle_alert_ids_are_the_ids_alerts_had_before_cycles_were_numbered() -> None:
    before = derive_id("sla.alert", "c1", "resolution", "breach", "1")
    assert alert_id("c1", "resolution", "breach", 1) == before
    assert alert_id("c1", "resolution", "breach", 1, cycle=1) == before
    assert alert_id("c1", "resolution", "breach", 1, cycle=2) != before


def test_status_matches_fired_alerts_to_their_own_cycle(policy: SlaPolicy) -> None:
    steps = [step("first_response", 5), step("resolved", 150), step("reopened", 200)]
    state = fold(decision(), steps, policy)  # a call: resolution 100 s, no warnings
    breach_1 = FiredRecord(
        "resolution",
        "breach",
        1,
        1,
        alert_id("c1", "resolution", "breach", 1),
        instant(T0 + 100),
        instant(T0 + 100.1),
        True,
    )
    shown = status(state, T0 + 250, [breach_1])
    res = [t for t in shown.targets if t.target == "resolution"]
    assert [(t.cycle, [(a.cycle, a.level, a.state) for a in t.alerts]) for t in res] == [
        (1, [(1, 1, LevelState.FIRED)]),
        (2, [(2, 1, LevelState.SCHEDULED)]),
    ]
    assert res[1].alerts[0].alert_id == alert_id("c1", "resolution", "breach", 1, cycle=2)
    assert shown.other_alerts == []


def email_breach(steps: list[Step]) -> PendingAlert:
    state = fold(decision(Channel.EMAIL), steps, policy_once())
    return next(
        p
        for p in state.pending_alerts()
        if p.target is SlaTarget.FIRST_RESPONSE and p.kind is AlertKind.BREACH
    )


def policy_once() -> SlaPolicy:
    return policy_of(POLICY)


def test_a_breach_says_where_the_time_went_per_queue_paused_and_wall() -> None:
    # An email (4 business hours) from Monday 10:00 in `general` (office hours 9-17):
    # paused for 30 min, then transferred to the 24x7 vendor after 1.5 business hours.
    steps = [
        step("waiting_on_customer", 1800),
        step("customer_replied", 3600),
        step("transferred", 7200, to_queue_id="vendor"),
    ]
    breach = email_breach(steps)
    general = QueueRef("general", QueueKind.IN_HOUSE, None)
    vendor = QueueRef("vendor", QueueKind.OUTSOURCED, "acme")
    assert breach.fire_at - T0 == 7200 + 9000
    assert breach.waited == ((general, 5400.0), (vendor, 9000.0))
    assert (breach.paused_seconds, breach.wall_seconds) == (1800.0, 16200.0)
    data = build_alert(breach, instant(breach.fire_at)).data
    assert data.cause is WaitCause.VENDOR
    assert [(w.queue_id, w.vendor, w.business_seconds) for w in data.waited] == [
        ("general", None, 5400.0),
        ("vendor", "acme", 9000.0),
    ]
    assert (data.paused_seconds, data.wall_seconds) == (1800.0, 16200.0)


def test_the_cause_is_the_queue_alone_or_transfers_between_in_house_queues() -> None:
    alone = email_breach([])
    assert main_wait(alone.waited) == (
        QueueRef("general", QueueKind.IN_HOUSE, None),
        WaitCause.QUEUE,
    )
    assert alone.wall_seconds == 4 * 3600.0, "Monday 10:00 to 14:00, all of it open"
    back = email_breach(
        [
            step("transferred", 600, to_queue_id="vendor"),
            step("transferred", 1200, to_queue_id="general"),
        ]
    )
    main = main_wait(back.waited)
    assert main is not None
    assert main == (QueueRef("general", QueueKind.IN_HOUSE, None), WaitCause.TRANSFERS)
    assert [seconds for _, seconds in back.waited] == [4 * 3600.0 - 600, 600.0]


# Steps at whole minutes, so the minute-stepping reference is exact.
_STEPS = st.lists(
    st.tuples(
        st.sampled_from(["waiting_on_customer", "customer_replied", "to_vendor", "to_general"]),
        st.integers(min_value=0, max_value=3 * 24 * 60),
    ),
    max_size=6,
    unique_by=lambda s: s[1],
)


@settings(max_examples=40, deadline=None)
@given(_STEPS)
def test_waits_match_a_minute_by_minute_reference(raw: list[tuple[str, int]]) -> None:
    policy = policy_once()
    steps = []
    for kind, minute in sorted(raw, key=lambda s: s[1]):
        if kind.startswith("to_"):
            steps.append(step("transferred", minute * 60, to_queue_id=kind[3:]))
        else:
            steps.append(step(kind, minute * 60))
    state = fold(decision(Channel.EMAIL), steps, policy)
    found = {
        p.kind.value + str(p.level): p
        for p in state.pending_alerts()
        if p.target is SlaTarget.FIRST_RESPONSE
    }
    reference = reference_levels(policy, raw)
    assert set(found) == set(reference), "the same levels reached"
    for name, expected in reference.items():
        p = found[name]
        fire_at, waited, paused = expected
        assert p.fire_at == fire_at
        assert [(q.id, s) for q, s in p.waited] == waited
        assert p.paused_seconds == paused
        assert p.wall_seconds == fire_at - T0


def reference_levels(
    policy: SlaPolicy, raw: list[tuple[str, int]]
) -> dict[str, tuple[float, list[tuple[str, float]], float]]:
    """Per level of the email first response (warning at 3 h, breach at 4 h, escalation
    at 5 h of business time): when it is reached, the business time per queue, and the
    paused time, by stepping minute by minute from the arrival."""
    thresholds = {"warning1": 3 * 3600, "breach1": 4 * 3600, "escalation1": 5 * 3600}
    by_minute = {m: k for k, m in raw}
    queue, paused, counted, paused_s = "general", False, 0, 0
    waited: dict[str, int] = {}
    found: dict[str, tuple[float, list[tuple[str, float]], float]] = {}
    last = max([m for _, m in raw], default=0)
    for minute in range(last + 6 * 24 * 60):
        kind = by_minute.get(minute)
        if kind == "waiting_on_customer":
            paused = True
        elif kind == "customer_replied":
            paused = False
        elif kind is not None:
            queue = kind[3:]
        at = int(T0) + minute * 60
        if paused:
            paused_s += 60
            if minute >= last:
                break  # paused for good: nothing more is reached
            continue
        kind_of = QueueKind.OUTSOURCED if queue == "vendor" else QueueKind.IN_HOUSE
        calendar, _ = policy.calendar_for(queue, kind_of)
        if brute_open(calendar, at):
            counted += 60
            waited[queue] = waited.get(queue, 0) + 60
            for name, threshold in thresholds.items():
                if counted == threshold:
                    found[name] = (at + 60.0, [(q, float(s)) for q, s in waited.items()], paused_s)
        if len(found) == len(thresholds):
            break
    return found
