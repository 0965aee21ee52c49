"""The discrete-event simulation behind the what-if replay, on hand-checked scenarios."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from router.domain.simulation import (
    Arrival,
    Load,
    Outcome,
    Placement,
    QueueModel,
    simulate,
)
from switchboard_calendars import Calendar, CalendarSpec
from switchboard_events import Channel

CALL, CHAT = Channel.CALL, Channel.CHAT
ALWAYS = Calendar.twenty_four_seven()
# Monday 3 March 2025 00:00 UTC
MONDAY = 1740960000.0


def one_queue(agents: int = 1, calendar: Calendar = ALWAYS) -> dict[str, QueueModel]:
    return {"q": QueueModel("q", agents, {CALL: 1, CHAT: 2}, calendar)}


def run(
    arrivals: Sequence[Arrival],
    handle: float | Sequence[float] = 10.0,
    priorities: Sequence[int] | None = None,
    queues: dict[str, QueueModel] | None = None,
    horizon: float = 1e12,
    seen: list[dict[tuple[str, str], int]] | None = None,
) -> list[Outcome]:
    def place(index: int, load: Load) -> Placement:
        if seen is not None:
            seen.append(dict(load))
        h = handle if isinstance(handle, float) else handle[index]
        return Placement("q", priorities[index] if priorities else 0, h)

    return simulate(arrivals, one_queue() if queues is None else queues, place, horizon)


def starts(outcomes: list[Outcome]) -> list[float | None]:
    return [o.started_at for o in outcomes]


def test_one_agent_serves_in_arrival_order() -> None:
    outcomes = run([Arrival(0, CALL), Arrival(1, CALL), Arrival(2, CALL)])
    assert starts(outcomes) == [0, 10, 20]  # waits 0, 9, 18


def test_a_departure_at_an_arrival_instant_frees_the_agent_first() -> None:
    assert starts(run([Arrival(0, CALL), Arrival(10, CALL)])) == [0, 10]


def test_higher_priority_goes_first() -> None:
    outcomes = run([Arrival(0, CALL), Arrival(1, CALL), Arrival(2, CALL)], priorities=[0, 0, 5])
    assert starts(outcomes) == [0, 20, 10]


def test_a_free_half_agent_takes_a_chat_but_a_call_needs_a_whole_one() -> None:
    # concurrency chat 2: two chats fill the agent; the call waits until both finish.
    outcomes = run(
        [Arrival(0, CHAT), Arrival(1, CHAT), Arrival(2, CALL), Arrival(3, CHAT)],
        handle=[10.0, 20.0, 5.0, 5.0],
    )
    assert starts(outcomes) == [0, 1, 21, 10]


def test_a_contact_abandons_when_its_patience_runs_out() -> None:
    outcomes = run([Arrival(0, CALL), Arrival(1, CALL, patience_s=5), Arrival(2, CALL)])
    assert outcomes[1] == Outcome("q", None, True)
    assert starts(outcomes) == [0, None, 10]


def test_patience_longer_than_the_wait_is_served() -> None:
    outcomes = run([Arrival(0, CALL), Arrival(1, CALL, patience_s=9)])
    assert outcomes[1] == Outcome("q", 10, False)


def test_a_closed_queue_starts_nothing_until_it_opens() -> None:
    spec = CalendarSpec.model_validate(
        {"id": "mon", "timezone": "UTC", "weekly": {"mon": ["09:00-10:00"]}}
    )
    queues = one_queue(calendar=Calendar.compile(spec))
    outcomes = run(
        [Arrival(MONDAY + 8 * 3600, CALL), Arrival(MONDAY + 9.5 * 3600, CALL)],
        handle=[3000.0, 10.0],
        queues=queues,
    )
    # The first starts at opening (09:00) and runs to 09:50; the second starts then.
    assert starts(outcomes) == [MONDAY + 9 * 3600, MONDAY + 9 * 3600 + 3000]


def test_contacts_left_waiting_at_the_horizon_are_unanswered() -> None:
    outcomes = run([Arrival(0, CALL), Arrival(1, CALL)], handle=100.0, horizon=50)
    assert outcomes == [Outcome("q", 0, False), Outcome("q", None, False)]


def test_the_placer_sees_the_simulated_load() -> None:
    seen: list[dict[tuple[str, str], int]] = []
    run([Arrival(0, CALL), Arrival(1, CALL), Arrival(15, CALL)], seen=seen)
    # At 1: the first in service; at 15: the first left, the second in service.
    assert seen == [{}, {("q", "call"): 1}, {("q", "call"): 1}]


def test_an_unknown_queue_serves_at_once() -> None:
    outcomes = run([Arrival(0, CALL), Arrival(1, CALL)], queues={})
    assert starts(outcomes) == [0, 1]


def test_arrivals_out_of_order_are_refused() -> None:
    with pytest.raises(ValueError, match="time order"):
        run([Arrival(5, CALL), Arrival(1, CALL)])


def test_contacts_waiting_at_closing_wait_for_the_next_opening() -> None:
    spec = CalendarSpec.model_validate(
        {
            "id": "days",
            "timezone": "UTC",
            "weekly": {"mon": ["09:00-10:00"], "tue": ["09:00-10:00"]},
        }
    )
    queues = one_queue(calendar=Calendar.compile(spec))
    late = MONDAY + 10 * 3600 - 100
    outcomes = run([Arrival(late, CALL), Arrival(late + 1, CALL)], handle=200.0, queues=queues)
    # The first runs past closing; the second waits for Tuesday 09:00.
    assert starts(outcomes) == [late, MONDAY + 86400 + 9 * 3600]


def test_adjacent_open_intervals_keep_the_queue_open() -> None:
    # Open all Monday and all Tuesday: two intervals meeting at midnight, no closing.
    whole = {"mon": ["00:00-24:00"], "tue": ["00:00-24:00"]}
    spec = CalendarSpec.model_validate({"id": "both", "timezone": "UTC", "weekly": whole})
    midnight = MONDAY + 86400
    outcomes = run(
        [Arrival(midnight - 5, CALL), Arrival(midnight - 4, CALL), Arrival(midnight + 1, CALL)],
        handle=10.0,
        queues={"q": QueueModel("q", 2, {CALL: 1}, Calendar.compile(spec))},
    )
    assert starts(outcomes) == [midnight - 5, midnight - 4, midnight + 5]
