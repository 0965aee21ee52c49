"""Staffing from live volume: agents needed per queue for the arrivals of the window."""

from __future__ import annotations

from datetime import timedelta

import pytest
from router_fakes import Contact, FakeRoutingRepository
from router_support import compile_policy

from router import metrics
from router.domain.policy import PolicySpec
from router.domain.staffing import staffing
from router.staffing import publish
from switchboard_events import Channel
from switchboard_events.testing import T0
from switchboard_planning.staffing import Target, agents_needed

WINDOW_S = 1800.0


def spec() -> PolicySpec:
    return compile_policy().spec


def test_no_arrivals_need_no_agents_and_leave_the_whole_shift_spare() -> None:
    for queue in staffing(spec(), {}, WINDOW_S, 0.85):
        assert queue.needed == 0
        assert queue.gap == -queue.on_shift


def test_each_channel_is_sized_with_its_own_handle_time_target_and_concurrency() -> None:
    policy = spec()
    queue = next(q for q in policy.queues if Channel.CHAT in q.channels)
    arrivals = {(queue.id, "chat"): 300}  # 600 an hour
    (found,) = [q for q in staffing(policy, arrivals, WINDOW_S, 0.85) if q.queue == queue.id]
    chat = next(n for n in found.channels if n.channel == "chat")
    expected = agents_needed(
        600,
        policy.handle_time_seconds[Channel.CHAT],
        Target(policy.sla.target_share, policy.sla.first_response_seconds[Channel.CHAT], 0.85, 0),
        queue.capacity.concurrency[Channel.CHAT],
    )
    assert chat.arrivals_per_h == pytest.approx(600)
    assert chat.agents == expected.agents > 0
    assert chat.service_level >= policy.sla.target_share
    assert found.needed == sum(n.agents for n in found.channels)
    assert found.gap == found.needed - found.on_shift


async def test_arrivals_count_every_contact_placed_in_the_window_open_or_closed() -> None:
    store = FakeRoutingRepository()
    store.contacts = {
        "a": Contact("general", "call", "open", "d1", T0, T0),
        "b": Contact("general", "call", "resolved", "d2", T0, T0),
        "c": Contact("general", "chat", "open", "d3", *[T0 - timedelta(hours=1)] * 2),
    }
    assert await store.arrivals(T0 - timedelta(minutes=30)) == {("general", "call"): 2}
    assert await store.open_load(T0 - timedelta(minutes=30)) == {("general", "call"): 1}


def test_the_gauges_show_each_queue_and_forget_dropped_ones() -> None:
    publish(staffing(spec(), {}, WINDOW_S, 0.85))
    queues = {s.labels["queue"] for m in metrics.STAFFING_GAP.collect() for s in m.samples}
    assert queues == {q.id for q in spec().queues}
    publish([])
    assert not [s for m in metrics.STAFFING_GAP.collect() for s in m.samples]
