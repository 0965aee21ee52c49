"""OLAs (a receiving team's target after a handover) and quiet hours for notifications."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sla_support import brute_open, brute_opening, policy_of

from sla_monitor.domain.alerts import alert_id, build_alert
from sla_monitor.domain.clock import ClockStatus, Decision, PendingAlert, QueueRef, Step, fold
from sla_monitor.domain.compiled import SlaPolicy
from sla_monitor.domain.errors import PolicyInvalid
from sla_monitor.domain.explain import explain, render
from sla_monitor.domain.status import LevelState, status
from sla_monitor.service import step_of
from switchboard_calendars import instant
from switchboard_events import AlertKind, Channel, LifecycleKind, QueueKind
from switchboard_events.sla import Agreement
from switchboard_events.testing import lifecycle

POLICY = """
calendars:
  - id: office
    timezone: Europe/London
    weekly: {mon: ["09:00-17:00"], tue: ["09:00-17:00"], wed: ["09:00-17:00"],
             thu: ["09:00-17:00"], fri: ["09:00-17:00"]}
  - id: billing-hours
    timezone: America/New_York
    weekly: {mon: ["09:00-13:00", "14:00-18:00"], tue: ["09:00-18:00"], wed: ["09:00-18:00"],
             thu: ["09:00-18:00"], fri: ["09:00-15:00"]}
    holidays: [2026-03-04]
  - id: always
    always_open: true
queues:
  - {id: general, kind: in_house, calendar: office}
  - {id: billing, kind: in_house, calendar: office}
  - {id: billing-2, kind: in_house, calendar: office}
  - {id: vendor, kind: outsourced, vendor: acme, calendar: always}
default_calendars: {in_house: office, outsourced: always}
teams:
  - {id: frontline, queues: [general]}
  - {id: billing, queues: [billing, billing-2], calendar: billing-hours}
  - {id: acme, queues: [vendor]}
olas:
  - id: billing-pickup
    team: billing
    first_response: {target: 2h, warnings: [{share: 50%}], escalations: [1h]}
  - id: billing-pickup-email
    team: [billing]
    match: {channel: email}
    first_response: {target: 3h, warnings: [{share: 50%}], escalations: [1h], outside_hours: hold}
  - id: frontline-back
    team: frontline
    first_response: {target: 30m}
default:
  first_response: {target: 4h}
  resolution:
    target: 2d
    clock: calendar
    warnings: [{share: 50%}, {share: 90%}]
    escalations: [1h]
    outside_hours: hold
"""

T0 = datetime.fromisoformat("2026-03-02T10:00:00+00:00").timestamp()  # Monday 10:00 GMT
HOUR = 3600.0
seq = itertools.count()


@pytest.fixture(scope="module")
def policy() -> SlaPolicy:
    return policy_of(POLICY)


def decision(channel: Channel = Channel.CHAT, queue: str = "general") -> Decision:
    return Decision("c1", QueueRef(queue, QueueKind.IN_HOUSE, None), 500, "P2", channel, None, T0)


def step(kind: str, after: float, queue: str | None = None) -> Step:
    return Step(LifecycleKind(kind), T0 + after, next(seq), queue)


def ola_alerts(pending: list[PendingAlert]) -> list[tuple[str | None, int, str, float]]:
    return sorted(
        (p.team, p.cycle, p.kind.value, p.fire_at - T0) for p in pending if p.team is not None
    )


def new_york(text: str) -> float:
    return datetime.fromisoformat(text + "-05:00").timestamp()


def test_a_transfer_to_another_team_starts_its_ola_by_its_hours(policy: SlaPolicy) -> None:
    # 10:00 GMT is 05:00 in New York: billing opens at 09:00 local (14:00 GMT).
    state = fold(decision(), [step("transferred", 0, "billing")], policy)
    opens = new_york("2026-03-02T09:00:00") - T0
    assert ola_alerts(state.pending_alerts()) == [
        ("billing", 1, "breach", opens + 2 * HOUR),
        ("billing", 1, "escalation", opens + 3 * HOUR),
        ("billing", 1, "warning", opens + HOUR),
    ]
    (clock,) = state.olas
    assert (clock.team, clock.target.rule, clock.status) == ("billing", "billing-pickup", "running")


def test_the_receiving_team_responding_or_handing_back_meets_it(policy: SlaPolicy) -> None:
    transfer = step("transferred", 0, "billing")
    replied = fold(decision(), [transfer, step("agent_replied", 300)], policy)
    assert [c.status for c in replied.olas] == [ClockStatus.MET]
    assert ola_alerts(replied.pending_alerts()) == []
    back = fold(decision(), [transfer, step("transferred", 600, "general")], policy)
    assert [(c.team, c.status) for c in back.olas] == [
        ("billing", ClockStatus.MET),
        ("frontline", ClockStatus.RUNNING),
    ], "handed back: frontline's OLA starts"
    within = fold(decision(), [transfer, step("transferred", 600, "billing-2")], policy)
    assert [(c.team, c.cycle, c.status) for c in within.olas] == [
        ("billing", 1, ClockStatus.RUNNING)
    ], "a move within the team is no handover"


def test_every_handover_to_a_team_is_a_cycle_with_its_own_ids(policy: SlaPolicy) -> None:
    steps = [
        step("transferred", 0, "billing"),
        step("transferred", 60, "general"),
        step("assigned", 120, "billing-2"),  # an assignment to another team's queue hands over
    ]
    state = fold(decision(), steps, policy)
    assert [(c.team, c.cycle) for c in state.olas] == [
        ("billing", 1),
        ("frontline", 1),
        ("billing", 2),
    ]
    breach = next(
        p for p in state.pending_alerts() if p.team == "billing" and p.kind is AlertKind.BREACH
    )
    assert breach.cycle == 2
    sla = alert_id("c1", "first_response", "breach", 1)
    assert alert_id(*breach.key) == alert_id("c1", "first_response", "breach", 1, 2, "billing")
    assert alert_id(*breach.key) != sla
    assert len({alert_id(*p.key) for p in state.pending_alerts()}) == len(state.pending_alerts())


def test_the_most_specific_ola_wins_and_a_team_without_one_has_no_clock(
    policy: SlaPolicy,
) -> None:
    email = fold(decision(Channel.EMAIL), [step("transferred", 0, "billing")], policy)
    assert [c.target.rule for c in email.olas] == ["billing-pickup-email"]
    vendor = fold(decision(), [step("transferred", 0, "vendor")], policy)
    assert vendor.olas == [], "team acme has no OLA"
    unknown = fold(decision(), [step("transferred", 0, "nowhere")], policy)
    assert unknown.olas == [], "a queue of no team: handed out of frontline, nobody to hold"


def test_an_ola_pauses_while_waiting_and_stops_when_abandoned(policy: SlaPolicy) -> None:
    steps = [
        step("waiting_on_customer", -60),
        step("transferred", 0, "billing"),
        step("customer_replied", 5 * HOUR),  # 10:00 in New York
    ]
    state = fold(decision(), steps, policy)
    (breach,) = [p for p in state.pending_alerts() if p.team and p.kind is AlertKind.BREACH]
    assert breach.fire_at == new_york("2026-03-02T12:00:00"), "2 h from the reply at 10:00"
    gone = fold(decision(), [*steps, step("abandoned", 6 * HOUR)], policy)
    assert [c.status for c in gone.olas] == [ClockStatus.STOPPED]


def test_ola_alerts_and_status_carry_their_labels(policy: SlaPolicy) -> None:
    state = fold(decision(), [step("transferred", 0, "billing")], policy)
    warning = next(p for p in state.pending_alerts() if p.team and p.kind is AlertKind.WARNING)
    data = build_alert(warning, instant(warning.fire_at)).data
    assert (data.agreement, data.team, data.queue_id, data.policy_rule) == (
        Agreement.OLA,
        "billing",
        "billing",
        "billing-pickup",
    )
    sla = next(p for p in state.pending_alerts() if p.team is None)
    assert build_alert(sla, instant(sla.fire_at)).data.agreement is Agreement.SLA
    shown = status(state, T0 + 60)
    assert [(t.agreement, t.team, t.target) for t in shown.targets][-1] == (
        "ola",
        "billing",
        "first_response",
    )


def test_policy_problems_of_teams_and_olas_are_reported_together() -> None:
    bad = POLICY.replace("{id: acme, queues: [vendor]}", "{id: acme, queues: [vendor, billing]}")
    bad = bad.replace("team: frontline", "team: [frontline, nobody]")
    bad = bad.replace("calendar: billing-hours}", "calendar: closed-days}")
    again = "  - {id: again, team: billing, first_response: {target: 1h}}\n"
    with pytest.raises(PolicyInvalid) as raised:
        policy_of(bad.replace("default:\n", again + "default:\n"))
    text = str(raised.value)
    assert "queue 'billing' is in team 'billing' already" in text
    assert "unknown team 'nobody'" in text
    assert "unknown calendar 'closed-days'" in text
    assert "never used: olas[0] has the same conditions for team 'billing'" in text


# -- quiet hours ------------------------------------------------------------------------


def test_warnings_and_escalations_outside_hours_are_held_the_breach_is_not(
    policy: SlaPolicy,
) -> None:
    # Resolution: 2 days of wall time from Monday 10:00 GMT; warnings at 24 h (Tuesday 10:00,
    # open) and 43.2 h (Wednesday 05:12, closed); breach Wednesday 10:00; escalation 11:00.
    state = fold(decision(), [], policy)
    res = {
        (p.kind.value, p.level): p for p in state.pending_alerts() if p.target.value == "resolution"
    }
    assert res["warning", 1].held_until is None, "open: sent at once"
    early = res["warning", 2]
    assert early.fire_at == T0 + 43.2 * HOUR
    assert early.held_until == datetime.fromisoformat("2026-03-04T09:00:00+00:00").timestamp()
    assert early.send_at == early.held_until
    data = build_alert(early, instant(early.send_at)).data
    assert data.held_until == instant(early.held_until)
    assert data.due_at == instant(T0 + 48 * HOUR), "the breach time stays exact"
    assert res["breach", 1].held_until is None


def test_the_status_shows_a_warning_held_past_its_breach_as_superseded(
    policy: SlaPolicy,
) -> None:
    # From Friday 14:00 GMT the resolution's warnings (Saturday 14:00, Sunday 09:12) would
    # wait for Monday 09:00, after the breach (Sunday 14:00): neither is scheduled.
    friday = datetime.fromisoformat("2026-03-06T14:00:00+00:00").timestamp()
    base = decision()
    state = fold(Decision("c1", base.queue, 500, "P2", Channel.CHAT, None, friday), [], policy)
    assert {p.kind for p in state.pending_alerts() if p.target.value == "resolution"} == {
        AlertKind.BREACH,
        AlertKind.ESCALATION,
    }
    shown = status(state, friday + 46 * HOUR)
    resolution = next(t for t in shown.targets if t.target == "resolution")
    assert [(a.kind, a.state) for a in resolution.alerts] == [
        ("warning", LevelState.SUPERSEDED),
        ("warning", LevelState.SUPERSEDED),
        ("breach", LevelState.SCHEDULED),
        ("escalation", LevelState.SCHEDULED),
    ]
    monday = status(fold(decision(), [], policy), T0 + 44 * HOUR)
    held = next(t for t in monday.targets if t.target == "resolution")
    assert [a.state for a in held.alerts][:2] == [LevelState.DUE, LevelState.DUE], (
        "held to an opening before the breach: due"
    )


def test_a_target_that_sends_at_once_sends_outside_hours_too() -> None:
    state = fold(decision(), [], policy_of(POLICY.replace("    outside_hours: hold\n", "")))
    late = next(
        p for p in state.pending_alerts() if p.target.value == "resolution" and p.level == 2
    )
    assert (late.fire_at, late.held_until, late.send_at) == (T0 + 43.2 * HOUR, None, late.fire_at)


_MINUTES = st.integers(min_value=0, max_value=8 * 24 * 60)


@settings(max_examples=60, deadline=None)
@given(_MINUTES, _MINUTES)
def test_an_ola_and_its_quiet_hours_match_a_minute_by_minute_reference(
    handover: int, wait: int
) -> None:
    """The email OLA (3 h of billing's hours; warning at 1.5 h held outside them): its
    breach is the minute the reference counts 3 h; the held warning goes out at the first
    open minute at or after it is reached."""
    policy = policy_of(POLICY)
    steps = [
        step("transferred", handover * 60, "billing"),
        step("waiting_on_customer", handover * 60 + 60),
        step("customer_replied", handover * 60 + 60 + wait * 60),
    ]
    state = fold(decision(Channel.EMAIL), steps, policy)
    found = {p.kind: p for p in state.pending_alerts() if p.team == "billing"}
    hours = policy.calendars["billing-hours"]
    counted, at = 0, int(T0) + handover * 60
    reached: dict[AlertKind, int] = {}
    paused = (at + 60, at + 60 + wait * 60)
    while len(reached) < 2:
        if not paused[0] <= at < paused[1] and brute_open(hours, at):
            counted += 60
            for threshold, kind in ((90, AlertKind.WARNING), (180, AlertKind.BREACH)):
                if counted == threshold * 60:
                    reached[kind] = at + 60
        at += 60
    assert found[AlertKind.BREACH].fire_at == reached[AlertKind.BREACH]
    assert found[AlertKind.BREACH].held_until is None
    warning = found[AlertKind.WARNING]
    assert warning.fire_at == reached[AlertKind.WARNING]
    opening = int(warning.fire_at)
    while not brute_open(hours, opening):
        opening += 60
    assert warning.send_at == opening
    assert (warning.held_until is None) == (opening == warning.fire_at)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=14 * 24 * 60))
def test_held_wall_time_levels_go_out_at_the_first_open_minute(arrival: int) -> None:
    """The resolution (2 days of wall time, hold): each warning and escalation is sent at
    the first minute the office is open, by the minute-by-minute reference, the breach at
    once; a warning that would go out at or after the breach is dropped."""
    policy = policy_of(POLICY)
    base = decision()
    start = int(T0) + arrival * 60
    state = fold(Decision("c1", base.queue, 500, "P2", Channel.CHAT, None, start), [], policy)
    office = policy.calendars["office"]
    breach = start + 48 * int(HOUR)
    expected = {(AlertKind.BREACH, 1): float(breach)}
    for kind, level, reached in (
        (AlertKind.WARNING, 1, start + 24 * int(HOUR)),
        (AlertKind.WARNING, 2, start + 43 * int(HOUR) + 12 * 60),
        (AlertKind.ESCALATION, 1, breach + int(HOUR)),
    ):
        opening = brute_opening(office, reached)
        if kind is AlertKind.ESCALATION or opening < breach:
            expected[kind, level] = float(opening)
    levels = [p for p in state.pending_alerts() if p.target.value == "resolution"]
    assert {(p.kind, p.level): p.send_at for p in levels} == expected


def test_a_calendar_that_never_opens_again_sends_held_alerts_at_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Open on Mondays, each a holiday for the calendar's whole horizon (3 years): no
    opening to hold a warning for, so it is sent when reached (logged once), and the fold
    goes on instead of raising `CalendarExhausted`."""
    mondays = ", ".join(str(date(2026, 3, 2) + timedelta(weeks=w)) for w in range(160))
    policy = policy_of(
        "calendars:\n"
        f"  - {{id: mondays-off, timezone: UTC, weekly: {{mon: ['09:00-17:00']}},"
        f" holidays: [{mondays}]}}\n"
        "queues:\n  - {id: general, kind: in_house, calendar: mondays-off}\n"
        "default_calendars: {in_house: mondays-off, outsourced: mondays-off}\n"
        "default:\n"
        "  first_response: {target: 1h, clock: calendar, warnings: [{share: 50%}],"
        " outside_hours: hold}\n"
        "  resolution: {target: 1d, clock: calendar}\n"
    )
    with caplog.at_level("WARNING", logger="sla_monitor.domain.quiet"):
        for _ in range(2):
            state = fold(decision(), [], policy)
            sent = {p.kind: p for p in state.pending_alerts() if p.target.value == "first_response"}
            warning = sent[AlertKind.WARNING]
            assert (warning.held_until, warning.send_at) == (None, T0 + HOUR / 2)
            assert sent[AlertKind.BREACH].send_at == T0 + HOUR
    (logged,) = [r for r in caplog.records if getattr(r, "calendar", None) == "mondays-off"]
    assert "no open time" in logged.__dict__["reason"]


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_HOURS = st.one_of(
    st.none(),
    st.integers(min_value=0, max_value=23).flatmap(
        lambda opens: st.tuples(st.just(opens), st.integers(min_value=opens + 1, max_value=24))
    ),
)


@st.composite
def _held_targets(draw: st.DrawFn) -> tuple[str, str, int, list[int], int]:
    """A calendar (zone, weekly hours: at most one range a day, at least one day), a target
    that holds (clock, minutes, warnings' lead minutes) and a start minute from T0."""
    zone = draw(st.sampled_from(["UTC", "Europe/London", "America/New_York", "Asia/Kolkata"]))
    week = draw(st.lists(_DAY_HOURS, min_size=7, max_size=7).filter(any))
    weekly = ", ".join(
        f'{day}: ["{h[0]:02d}:00-{h[1]:02d}:00"]'
        for day, h in zip(_DAYS, week, strict=True)
        if h is not None
    )
    clock = draw(st.sampled_from(["calendar", "business"]))
    # business time is counted minute by minute below: keep it to a few hours of it
    minutes = draw(st.integers(min_value=2, max_value=3 * 24 * 60 if clock == "calendar" else 360))
    leads = draw(st.sets(st.integers(min_value=1, max_value=minutes - 1), min_size=1, max_size=3))
    start = draw(st.integers(min_value=0, max_value=14 * 24 * 60))
    calendar = f"  - id: team\n    timezone: {zone}\n    weekly: {{{weekly}}}\n"
    return calendar, clock, minutes, sorted(leads), start


@settings(max_examples=80, deadline=None)
@given(_held_targets())
def test_no_held_warning_goes_out_at_or_after_its_breach(
    case: tuple[str, str, int, list[int], int],
) -> None:
    """For any calendar, held target and start: the breach goes out when the reference
    counts the target; each warning at its first open minute if that is before the breach,
    else not at all (the breach supersedes it)."""
    calendar, clock, minutes, leads, start_minute = case
    warnings = ", ".join(f"{{before: {lead}m}}" for lead in leads)
    policy = policy_of(
        f"calendars:\n{calendar}"
        "queues:\n  - {id: general, kind: in_house, calendar: team}\n"
        "default_calendars: {in_house: team, outsourced: team}\n"
        "default:\n"
        f"  first_response: {{target: {minutes}m, clock: {clock}, warnings: [{warnings}],"
        " outside_hours: hold}\n"
        "  resolution: {target: 30d, clock: calendar}\n"
    )
    team = policy.calendars["team"]
    start = int(T0) + start_minute * 60
    reached: dict[int, int] = {}  # elapsed minutes -> when the reference reaches them
    thresholds = {minutes - lead for lead in leads} | {minutes}
    counted, at = 0, start
    while len(reached) < len(thresholds):
        if clock == "calendar" or brute_open(team, at):
            counted += 1
            if counted in thresholds:
                reached[counted] = at + 60
        at += 60
    breach = reached[minutes]
    expected = {(AlertKind.BREACH, 1): float(breach)}
    for number, lead in enumerate(sorted(leads, reverse=True), start=1):
        opening = brute_opening(team, reached[minutes - lead])
        if opening < breach:
            expected[AlertKind.WARNING, number] = float(opening)
    state = fold(Decision("c1", decision().queue, 500, "P2", Channel.CHAT, None, start), [], policy)
    sent = {
        (p.kind, p.level): p.send_at
        for p in state.pending_alerts()
        if p.target.value == "first_response"
    }
    assert sent == expected
    assert all(when < breach for (kind, _), when in sent.items() if kind is AlertKind.WARNING)


def test_an_assignment_keeps_the_queue_it_names_a_transfer_its_target() -> None:
    assigned = lifecycle("c1", "assigned", queue_id="billing-2")
    moved = lifecycle("c1", "transferred", queue_id="general", to_queue_id="billing")
    plain = lifecycle("c1", "first_response", queue_id="general")
    assert [step_of(e).to_queue_id for e in (assigned, moved, plain)] == [
        "billing-2",
        "billing",
        None,
    ]


def test_explain_lists_each_olas_rule_hours_and_levels(policy: SlaPolicy) -> None:
    told = explain(policy, decision(Channel.EMAIL), [step("transferred", 0, "billing")], T0)
    (ola,) = told["olas"]
    opens = new_york("2026-03-02T09:00:00")
    assert (ola["team"], ola["cycle"], ola["rule"], ola["calendar"], ola["length"]) == (
        "billing",
        1,
        "billing-pickup-email",
        "billing-hours",
        "3h",
    )
    assert ola["levels"][1] == {
        "kind": "breach",
        "level": 1,
        "when": "at the target",
        "reached_at": instant(opens + 3 * HOUR).isoformat(),
    }
    text = render(told)
    assert "ola of billing #1 (handed to billing at" in text
    assert "  ola of billing first_response #1: running" in text
