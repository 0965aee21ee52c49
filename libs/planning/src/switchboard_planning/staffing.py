"""Agents needed for one queue in one interval, the way workforce planners count them.

From the arrival rate and handle time of the interval: the fewest agents on the phones
for which (Erlang C) the target share of contacts is answered within the target time
and occupancy stays at or below its maximum; then scheduled agents, which add
shrinkage (breaks, training, absence: the share of paid time not spent handling).
Contacts an agent handles at once (chats) divide the handle time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from switchboard_planning.erlang import erlang_a, expected_wait, service_level

MAX_AGENTS = 100_000


@dataclass(frozen=True)
class Target:
    share: float
    """e.g. 0.8 for "80% answered within ..." """
    within_s: float
    """... 20 s."""
    max_occupancy: float = 0.85
    shrinkage: float = 0.3

    def __post_init__(self) -> None:
        if not 0 < self.share < 1:
            raise ValueError(f"the target share must lie between 0 and 1, not {self.share}")
        if self.within_s < 0:
            raise ValueError("the target time must not be negative")
        if not 0 < self.max_occupancy <= 1:
            raise ValueError("the maximum occupancy must lie in (0, 1]")
        if not 0 <= self.shrinkage < 1:
            raise ValueError("shrinkage must lie in [0, 1)")


@dataclass(frozen=True)
class Staffing:
    arrivals_per_h: float
    handle_s: float
    traffic_erlangs: float
    agents: int
    """On the phones at once."""
    scheduled: int
    """Rostered, shrinkage included."""
    service_level: float
    mean_wait_s: float
    occupancy: float
    abandons: float | None = None
    """Erlang A's share of abandoned contacts at `agents`, when a patience is given."""


def agents_needed(
    arrivals_per_h: float,
    handle_s: float,
    target: Target,
    concurrency: int = 1,
    patience_s: float | None = None,
) -> Staffing:
    """The fewest agents meeting `target` for this interval's volume."""
    if arrivals_per_h < 0 or handle_s <= 0 or concurrency < 1:
        raise ValueError("arrivals must be >= 0, handle time > 0 and concurrency >= 1")
    handle = handle_s / concurrency
    traffic = arrivals_per_h / 3600 * handle
    agents = max(1, math.ceil(traffic / target.max_occupancy)) if traffic else 0
    while agents and service_level(agents, traffic, handle, target.within_s) < target.share:
        agents += 1
        if agents > MAX_AGENTS:
            raise ValueError(f"no staffing up to {MAX_AGENTS} agents meets the target")
    abandons = None
    if patience_s is not None and agents:
        abandons = erlang_a(agents, arrivals_per_h / 3600, handle, patience_s).abandons
    return Staffing(
        arrivals_per_h=arrivals_per_h,
        handle_s=handle_s,
        traffic_erlangs=traffic,
        agents=agents,
        scheduled=math.ceil(agents / (1 - target.shrinkage)),
        service_level=service_level(agents, traffic, handle, target.within_s) if agents else 1.0,
        mean_wait_s=expected_wait(agents, traffic, handle) if agents else 0.0,
        occupancy=traffic / agents if agents else 0.0,
        abandons=abandons,
    )
