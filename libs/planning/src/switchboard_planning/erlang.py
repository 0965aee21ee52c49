"""Queueing models of a contact centre queue: Erlang C, and Erlang A for callers who hang up.

- Erlang C (M/M/N): contacts arrive at random, N agents each handle one at a time with
  an exponential handle time of mean h, nobody gives up. Traffic A = arrival rate x h,
  in Erlangs. P(wait) = C(N, A); the share answered within t seconds is
  1 - C(N, A) * exp(-(N - A) * t / h); the mean wait (ASA) is C(N, A) * h / (N - A).
- Erlang A (M/M/N+M): the same, and each waiting contact abandons after an exponential
  patience of mean p. Solved exactly as a birth-death chain (state = contacts in the
  system), truncated where the remaining probability is negligible.

Both are computed in floating point with recursions that stay stable for thousands of
agents (no factorials).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

TAIL = 1e-12  # where the Erlang A chain is cut: the probability left beyond it


def erlang_b(servers: int, traffic: float) -> float:
    """Probability that all `servers` are busy in a loss system (Erlang B)."""
    if servers < 0:
        raise ValueError("servers must not be negative")
    blocking = 1.0
    for n in range(1, servers + 1):
        blocking = traffic * blocking / (n + traffic * blocking)
    return blocking


def erlang_c(servers: int, traffic: float) -> float:
    """Probability that an arriving contact waits (0..1); 1 when saturated (A >= N)."""
    if servers <= 0 or traffic >= servers:
        return 1.0
    if traffic <= 0:
        return 0.0
    blocking = erlang_b(servers, traffic)
    return servers * blocking / (servers - traffic * (1 - blocking))


def expected_wait(servers: int, traffic: float, handle_s: float) -> float:
    """Mean wait in seconds (Erlang C); math.inf when saturated."""
    if servers <= 0 or traffic >= servers:
        return math.inf
    if traffic <= 0:
        return 0.0
    return erlang_c(servers, traffic) * handle_s / (servers - traffic)


def service_level(servers: int, traffic: float, handle_s: float, target_s: float) -> float:
    """Share of contacts answered within `target_s` (Erlang C); 0 when saturated."""
    if servers <= 0 or traffic >= servers:
        return 0.0
    waits = erlang_c(servers, traffic)
    return 1 - waits * math.exp(-(servers - traffic) * target_s / handle_s)


@dataclass(frozen=True)
class Abandoning:
    """Erlang A at one staffing level."""

    waits: float
    """Share of arrivals that find every agent busy."""
    abandons: float
    """Share of arrivals that hang up before an agent answers."""
    mean_wait_s: float
    """Mean time in the queue, over all arrivals (Little's law on the queue)."""
    occupancy: float
    """Mean share of agents busy."""


def erlang_a(servers: int, arrival_per_s: float, handle_s: float, patience_s: float) -> Abandoning:
    """Erlang A (M/M/N+M) by its birth-death chain; stable even when A >= N."""
    if servers <= 0:
        raise ValueError("Erlang A needs at least one agent")
    if arrival_per_s <= 0:
        return Abandoning(0.0, 0.0, 0.0, 0.0)
    mu, theta = 1 / handle_s, 1 / patience_s
    # Unnormalised p(k) relative to p(0), built up until the tail is negligible.
    weights = [1.0]
    k = 0
    while True:
        k += 1
        death = min(k, servers) * mu + max(k - servers, 0) * theta
        weights.append(weights[-1] * arrival_per_s / death)
        if k > servers and weights[-1] < TAIL * sum(weights):
            break
    total = sum(weights)
    p = [w / total for w in weights]
    waits = sum(p[servers:])
    queued = sum((n - servers) * p[n] for n in range(servers, len(p)))
    busy = sum(min(n, servers) * p[n] for n in range(len(p)))
    return Abandoning(
        waits=waits,
        abandons=queued * theta / arrival_per_s,
        mean_wait_s=queued / arrival_per_s,
        occupancy=busy / servers,
    )
