"""Estimated wait from live load: the Erlang C model of a multi-server queue.

For a contact on channel c at queue q:

- slots N = agents x concurrency[c]: how many contacts of c the team can handle at once;
- traffic A = the open contacts of every channel at q, converted into c-slots
  (an open contact of channel k takes 1/concurrency[k] of an agent, i.e.
  concurrency[c]/concurrency[k] slots of c): the work in the system now, in Erlangs;
- occupancy = A / N (the same whatever c is);
- handle time h = the policy's average handle time of channel c;
- expected wait = C(N, A) * h / (N - A), with C the Erlang C probability of waiting,
  computed with the stable Erlang B recursion. When A >= N the queue is saturated and
  the wait is unbounded (infinity); a queue without agents is saturated too.

Open contacts stand in for the offered load: in a stable queue the number of contacts
in service is the offered traffic A (Little's law), which is what the snapshot counts.
"""

from __future__ import annotations

import math


def erlang_c(servers: int, traffic: float) -> float:
    """Probability that an arriving contact waits (0..1); 1 when saturated."""
    if servers <= 0 or traffic >= servers:
        return 1.0
    if traffic <= 0:
        return 0.0
    blocking = 1.0
    for n in range(1, servers + 1):
        blocking = traffic * blocking / (n + traffic * blocking)
    return servers * blocking / (servers - traffic * (1 - blocking))


def expected_wait(servers: int, traffic: float, handle_seconds: float) -> float:
    """Mean wait in seconds (Erlang C); math.inf when the queue is saturated."""
    if servers <= 0 or traffic >= servers:
        return math.inf
    if traffic <= 0:
        return 0.0
    return erlang_c(servers, traffic) * handle_seconds / (servers - traffic)
