"""The scorecard's rules on folded clocks: times, outcomes, first-contact resolution."""

from __future__ import annotations

from sla_support import policy_of, short_policy_yaml

from sla_monitor.domain.clock import Decision, QueueRef, Step, fold
from sla_monitor.domain.scorecard import Fcr, Outcome, first_contact_resolution, outcomes
from switchboard_events import Channel, LifecycleKind, QueueKind
from switchboard_events.testing import T0

POLICY = policy_of(short_policy_yaml(T0.date()))  # calls: first response 2 s; P1: resolution 4 s
START = T0.timestamp()


def decision(label: str = "P1", channel: Channel = Channel.CALL) -> Decision:
    queue = QueueRef("general", QueueKind.IN_HOUSE, None)
    return Decision("c", queue, 100, label, channel, None, START)


def steps(*kinds_at: tuple[str, float]) -> list[Step]:
    return [Step(LifecycleKind(k), START + at, i) for i, (k, at) in enumerate(kinds_at)]


def test_a_prompt_answer_and_resolution_meet_both_targets() -> None:
    got = outcomes(fold(decision(), steps(("first_response", 1.5), ("resolved", 3)), POLICY))
    assert (got.first_response_s, got.first_response) == (1.5, Outcome.MET)
    assert (got.resolution_s, got.resolution) == (3.0, Outcome.MET)
    assert got.resolved_at == START + 3
    assert not got.abandoned


def test_late_answers_miss_and_a_reopened_contact_adds_up_its_cycles() -> None:
    history = steps(("first_response", 2.5), ("resolved", 3), ("reopened", 10), ("resolved", 15))
    got = outcomes(fold(decision(), history, POLICY))
    assert got.first_response == Outcome.MISSED
    assert got.resolution_s == 3 + 5
    assert got.resolution == Outcome.MISSED, "the second cycle took 5 s of 4"
    assert got.resolved_at == START + 15


def test_open_and_abandoned_contacts_have_no_resolution_time() -> None:
    open_ = outcomes(fold(decision(), steps(("first_response", 1)), POLICY))
    assert (open_.resolution_s, open_.resolution, open_.resolved_at) == (
        None,
        Outcome.PENDING,
        None,
    )
    gone = outcomes(fold(decision(), steps(("abandoned", 1)), POLICY))
    assert gone.abandoned
    assert (gone.resolution, gone.first_response) == (Outcome.EXCLUDED, Outcome.EXCLUDED)
    assert gone.first_response_s is None


def test_paused_time_does_not_count_towards_resolution() -> None:
    history = steps(
        ("first_response", 1), ("waiting_on_customer", 2), ("customer_replied", 6), ("resolved", 7)
    )
    got = outcomes(fold(decision(), history, POLICY))
    assert (got.resolution_s, got.resolution) == (3.0, Outcome.MET), "4 s waiting on the customer"


def test_first_contact_resolution_waits_for_its_window() -> None:
    window = 60.0
    resolved = START + 100
    assert first_contact_resolution(START, None, [], window, START + 1e6) is None
    assert first_contact_resolution(START, resolved, [], window, resolved + 59) == Fcr.PENDING
    assert first_contact_resolution(START, resolved, [], window, resolved + 60) == Fcr.YES
    assert first_contact_resolution(START, resolved, [START + 50], window, START) == Fcr.NO, (
        "a repeat while it was open counts, and decides at once"
    )
    assert first_contact_resolution(START, resolved, [resolved + 60], window, resolved) == Fcr.NO
    outside = [START - 10, START, resolved + 61]  # before, the same instant, too late
    assert first_contact_resolution(START, resolved, outside, window, resolved + 61) == Fcr.YES
