"""A discrete-event simulation of a policy's queues: the engine of the what-if replay.

Contacts arrive at their recorded instants. At each arrival `place` chooses the queue
from the simulated load at that instant (contacts placed and not yet finished, per queue
and channel, exactly what the live router counts as open), and the contact joins it:

- a queue's capacity is its agents; a contact of channel c takes 1/concurrency[c] of an
  agent, as the router's load estimate counts it (held in integer units, so no rounding);
- a queue starts contacts only while its calendar is open; at closing, contacts in
  service finish and the others wait for the next opening;
- waiting contacts start highest priority first, then in arrival order; a free fraction
  of an agent takes the best waiting contact that fits (a chat while a call would need a
  whole agent);
- a contact with a patience (it was recorded abandoned that long after it arrived)
  abandons if it is still waiting then;
- a contact placed in a queue the model does not know starts at once (it is counted,
  not queued).

Nothing runs after `horizon`: contacts still waiting then are unanswered.

Why our own loop rather than simpy, ciw or salabim: the model needs a routing decision
per arrival that reads the load of every queue at that instant, fractional capacity per
channel that opens and closes with each queue's calendar, priority order with the
best-fit start above, and abandonment. In simpy that is a custom resource (its
`Container` serves strictly first come, first served) plus one generator process per
contact waiting on any-of(request, timeout): more code than the heap below, and a
process switch per step on a path that runs a hundred thousand times; ciw's routing is
fixed per customer class before the run. One binary heap of (time, order, seq) is
deterministic by
construction: the same arrivals and placements give the same outcomes.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from switchboard_calendars import Calendar, CalendarExhausted
from switchboard_events import Channel

# Event order at one instant: a departure frees capacity before a calendar change, an
# abandonment or an arrival at the same instant looks at the queue.
_DEPART, _CALENDAR, _ABANDON = 0, 1, 2
PROGRESS_EVERY = 1000


@dataclass(frozen=True, slots=True)
class Arrival:
    at: float
    """Epoch seconds."""
    channel: Channel
    patience_s: float | None = None
    """Abandons when still waiting this long after arriving; None: waits for ever."""


@dataclass(frozen=True, slots=True)
class Placement:
    queue_id: str
    priority: int
    handle_s: float


@dataclass(frozen=True, slots=True)
class QueueModel:
    id: str
    agents: int
    concurrency: Mapping[Channel, int]
    calendar: Calendar


@dataclass(frozen=True, slots=True)
class Outcome:
    queue_id: str
    started_at: float | None
    """When an agent took it; None when it abandoned or was still waiting at the horizon."""
    abandoned: bool


Load = Mapping[tuple[str, str], int]
Placer = Callable[[int, Load], Placement]
"""(index of the arrival, load now) -> where it goes; the load must not be kept."""


class _Queue:
    __slots__ = ("closes", "free", "full", "intervals", "model", "need", "open", "waiting")

    def __init__(self, model: QueueModel) -> None:
        unit = math.lcm(*model.concurrency.values()) if model.concurrency else 1
        self.model = model
        self.need = {ch: unit // n for ch, n in model.concurrency.items()}
        self.full = unit
        self.free = model.agents * unit
        self.open = False
        self.waiting: dict[Channel, list[tuple[int, float, int]]] = {}
        self.intervals: Iterator[tuple[float, float]] | None = None
        self.closes = math.inf

    def needs(self, channel: Channel) -> int:
        return self.need.get(channel, self.full)

    def next_interval(self) -> tuple[float, float] | None:
        assert self.intervals is not None
        try:
            return next(self.intervals)
        except (StopIteration, CalendarExhausted):
            return None


class _Run:
    def __init__(
        self,
        arrivals: Sequence[Arrival],
        queues: Mapping[str, QueueModel],
        place: Placer,
        horizon: float,
    ) -> None:
        self.arrivals = arrivals
        self.place = place
        self.horizon = horizon
        self.queues = {q.id: _Queue(q) for q in queues.values()}
        self.events: list[tuple[float, int, int, int | str]] = []
        self.seq = 0
        self.load: dict[tuple[str, str], int] = {}
        self.placed: list[Placement | None] = [None] * len(arrivals)
        self.started: list[float | None] = [None] * len(arrivals)
        self.waiting = [False] * len(arrivals)
        self.abandoned = [False] * len(arrivals)
        self.in_system = 0

    def push(self, at: float, order: int, what: int | str) -> None:
        self.seq += 1
        heapq.heappush(self.events, (at, order, self.seq, what))

    def start_calendars(self, start: float) -> None:
        for queue in self.queues.values():
            queue.intervals = queue.model.calendar.intervals(start)
            first = queue.next_interval()
            if first is None:
                continue  # never opens: its contacts wait until the horizon
            if first[0] <= start:
                self._opened(queue, first[1])
            else:
                self.push(first[0], _CALENDAR, queue.model.id)
                queue.closes = first[1]

    def _opened(self, queue: _Queue, closes: float) -> None:
        queue.open = True
        queue.closes = closes
        if closes < math.inf:
            self.push(closes, _CALENDAR, queue.model.id)

    def calendar_change(self, queue: _Queue, now: float) -> None:
        if not queue.open:  # the opening scheduled at start or at the last closing
            self._opened(queue, queue.closes)
            self.dispatch(queue, now)
            return
        nxt = queue.next_interval()
        if nxt is not None and nxt[0] <= now:  # adjacent intervals: stays open
            self._opened(queue, nxt[1])
            return
        queue.open = False
        if nxt is not None:
            queue.closes = nxt[1]
            self.push(nxt[0], _CALENDAR, queue.model.id)

    def dispatch(self, queue: _Queue, now: float) -> None:
        """Start the best waiting contacts that fit, while the queue is open."""
        while queue.open and queue.free > 0:
            best: tuple[int, float, int] | None = None
            best_heap: list[tuple[int, float, int]] | None = None
            for channel, heap in queue.waiting.items():
                while heap and not self.waiting[heap[0][2]]:
                    heapq.heappop(heap)  # abandoned meanwhile
                if heap and queue.needs(channel) <= queue.free and (best is None or heap[0] < best):
                    best, best_heap = heap[0], heap
            if best is None or best_heap is None:
                return
            heapq.heappop(best_heap)
            self._start(best[2], now, queue)

    def _start(self, index: int, now: float, queue: _Queue | None) -> None:
        placement = self.placed[index]
        assert placement is not None
        self.waiting[index] = False
        self.started[index] = now
        if queue is not None:
            queue.free -= queue.needs(self.arrivals[index].channel)
        self.push(now + placement.handle_s, _DEPART, index)

    def arrive(self, index: int) -> None:
        arrival = self.arrivals[index]
        placement = self.place(index, self.load)
        self.placed[index] = placement
        key = (placement.queue_id, arrival.channel.value)
        self.load[key] = self.load.get(key, 0) + 1
        self.in_system += 1
        queue = self.queues.get(placement.queue_id)
        if queue is None:
            self._start(index, arrival.at, None)
            return
        self.waiting[index] = True
        entry = (-placement.priority, arrival.at, index)
        heapq.heappush(queue.waiting.setdefault(arrival.channel, []), entry)
        if arrival.patience_s is not None:
            self.push(arrival.at + arrival.patience_s, _ABANDON, index)
        self.dispatch(queue, arrival.at)

    def _leave(self, index: int) -> _Queue | None:
        placement = self.placed[index]
        assert placement is not None
        key = (placement.queue_id, self.arrivals[index].channel.value)
        self.load[key] -= 1
        self.in_system -= 1
        return self.queues.get(placement.queue_id)

    def handle(self, now: float, order: int, what: int | str) -> None:
        if order == _CALENDAR:
            assert isinstance(what, str)
            self.calendar_change(self.queues[what], now)
        elif order == _DEPART:
            assert isinstance(what, int)
            queue = self._leave(what)
            if queue is not None:
                queue.free += queue.needs(self.arrivals[what].channel)
                self.dispatch(queue, now)
        else:
            assert isinstance(what, int)
            if self.waiting[what]:
                self.waiting[what] = False
                self.abandoned[what] = True
                self._leave(what)


def simulate(
    arrivals: Sequence[Arrival],
    queues: Mapping[str, QueueModel],
    place: Placer,
    horizon: float,
    progress: Callable[[int], None] | None = None,
) -> list[Outcome]:
    """Run the arrivals (in time order) through the queues; one outcome per arrival."""
    if any(b.at < a.at for a, b in itertools.pairwise(arrivals)):
        raise ValueError("arrivals must be in time order")
    run = _Run(arrivals, queues, place, horizon)
    run.start_calendars(arrivals[0].at if arrivals else 0.0)
    events = run.events
    index, total = 0, len(arrivals)
    while True:
        next_arrival = arrivals[index].at if index < total else math.inf
        if events and events[0][0] <= next_arrival:
            now, order, _, what = events[0]
            if now > horizon or (index >= total and run.in_system == 0):
                break
            heapq.heappop(events)
            run.handle(now, order, what)
        elif index < total:
            if next_arrival > horizon:
                break
            run.arrive(index)
            index += 1
            if progress is not None and index % PROGRESS_EVERY == 0:
                progress(index)
        else:
            break
    if progress is not None:
        progress(index)
    outcomes = []
    for i in range(total):
        placement = run.placed[i]
        queue_id = placement.queue_id if placement is not None else ""
        outcomes.append(Outcome(queue_id, run.started[i], run.abandoned[i]))
    return outcomes
