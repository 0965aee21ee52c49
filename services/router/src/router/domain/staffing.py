"""Agents needed now, per queue, for the traffic the router is placing there.

For each channel a queue serves: the arrival rate over the recent window (contacts the
router placed there, counted by when they arrived, not when the router decided them: a
backlog decided late is not a burst of traffic now), the policy's handle time and first-response target, the share of
contacts to answer within it (`sla.target_share`) and the queue's concurrency give the
agents on the phones Erlang C asks for (`switchboard_planning`). A queue's need is the
sum over its channels (each channel staffed on its own: an upper bound when agents mix
channels). The gap is that need minus the agents the policy declares on shift: above
zero, the queue is short of people; below, it has spare.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from router.domain.policy import PolicySpec
from switchboard_planning.staffing import Target, agents_needed


@dataclass(frozen=True)
class ChannelNeed:
    channel: str
    arrivals_per_h: float
    agents: int
    """Agents on the phones this channel needs, alone."""
    service_level: float
    """The share answered within the target with that many agents."""


@dataclass(frozen=True)
class QueueStaffing:
    queue: str
    kind: str
    on_shift: int
    needed: int
    gap: int
    channels: list[ChannelNeed]


def staffing(
    spec: PolicySpec,
    arrivals: Mapping[tuple[str, str], int],
    window_s: float,
    max_occupancy: float,
) -> list[QueueStaffing]:
    """Every queue's need and gap for `arrivals` per (queue, channel) over `window_s`."""
    out = []
    for queue in spec.queues:
        needs = []
        for channel in queue.channels:
            target_s = spec.sla.first_response_seconds.get(channel)
            if target_s is None:
                continue  # no target for this channel: nothing to staff for
            need = agents_needed(
                arrivals.get((queue.id, channel.value), 0) * 3600 / window_s,
                spec.handle_time_seconds[channel],
                Target(spec.sla.target_share, target_s, max_occupancy, shrinkage=0),
                queue.capacity.concurrency[channel],
            )
            needs.append(
                ChannelNeed(channel.value, need.arrivals_per_h, need.agents, need.service_level)
            )
        needed = sum(n.agents for n in needs)
        on_shift = queue.capacity.agents
        out.append(
            QueueStaffing(queue.id, queue.kind.value, on_shift, needed, needed - on_shift, needs)
        )
    return out
