"""SLA clocks of one contact: a pure fold of its routing decision and lifecycle steps.

The clocks are recomputed from the whole history every time something new arrives,
so a lifecycle step that arrived before the decision, or a replay, ends up in the same
state: the state is a function of the set of events, not of their arrival order.

- The decision starts `first_response` and `resolution` at `arrived_at`.
- `first_response` meets first response; `agent_replied` meets the running next response.
- `customer_replied` (after the first response) starts a next-response clock unless
  one is already running; it also resumes paused clocks, as does `resumed`.
- `waiting_on_customer` pauses every running clock; pauses are counted exactly.
- `resolved` stops every clock; `reopened` starts a new resolution cycle from scratch.
- `abandoned` stops every clock and counts the contact as abandoned.
- `transferred` to a queue the policy knows moves the contact to that queue: alerts
  name it and business time counts by its calendar from then on.
- A handover to another team (a transfer, or an assignment to one of its queues)
  starts that team's OLA clock (`ola.fold_olas`), kept in `ContactClocks.olas`.

Steps are applied in event-time order (arrival order breaks ties); a step dated
before the contact arrived counts as happening when it arrived.

A clock runs in cycles (a new next response per customer reply, a new resolution per
reopen). Each cycle has its own warnings, breach and escalations, numbered from 1 again:
an alert is one (target, cycle, kind, level) of a contact, and so has its own id.

A target whose business time cannot elapse (the calendar it counts by has no open time
within its horizon, `MAX_SEARCH_DAYS`, before the target is reached) never falls due:
its cycle schedules no alert (an alert carries the instant its target is due), the
status says why (`Clock.never_due`), and that is logged once per calendar, rather than
the fold raising `CalendarExhausted`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from sla_monitor.domain.compiled import Facts, Level, ResolvedTarget, SlaPolicy
from sla_monitor.domain.quiet import held_until, log_exhausted, superseded
from switchboard_calendars import MAX_SEARCH_DAYS, Calendar, CalendarExhausted
from switchboard_events import AlertKind, Channel, LifecycleKind, QueueKind, SlaTarget

MAX_CYCLE = 10_000
"""The alert contract's highest cycle; cycles past it raise no more alerts."""
TWENTY_FOUR_SEVEN = Calendar.twenty_four_seven()


def reach(calendar: Calendar, start: float, offsets: Sequence[float]) -> list[float | None]:
    """`calendar.add_many(start, offsets)`, None for each offset the calendar cannot reach
    (no open time within its horizon first): those levels never fall due."""
    try:
        return list(calendar.add_many(start, offsets))
    except CalendarExhausted as exc:
        log_exhausted(calendar, "targets counted by it never fall due and raise no alerts", exc)
    reached: list[float | None] = []
    for offset in offsets:  # ascending: once one is out of reach, so are the rest
        try:
            reached.append(calendar.add(start, offset))
        except CalendarExhausted:
            break
    return reached + [None] * (len(offsets) - len(reached))


class ClockStatus(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    STOPPED = "stopped"


class ContactStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    ABANDONED = "abandoned"


class FirstResponse(StrEnum):
    """How the first-response target went, for the live service level."""

    PENDING = "pending"
    MET = "met"
    MISSED = "missed"
    EXCLUDED = "excluded"  # abandoned or resolved without a response, before the target


@dataclass(frozen=True, slots=True)
class QueueRef:
    id: str
    kind: QueueKind
    vendor: str | None


@dataclass(frozen=True, slots=True)
class Decision:
    """The routing decision, as far as SLA cares."""

    contact_id: str
    queue: QueueRef
    priority: int
    priority_label: str
    channel: Channel
    tier: str | None
    arrived_at: float
    contract_id: str | None = None

    @property
    def facts(self) -> Facts:
        return Facts(self.channel, self.priority_label, self.tier, self.contract_id)


@dataclass(frozen=True, slots=True)
class Step:
    """A lifecycle step: what happened, when, and its arrival order (`seq`)."""

    kind: LifecycleKind
    at: float
    seq: int = 0
    to_queue_id: str | None = None


@dataclass(slots=True)
class Segment:
    """A stretch of running time in `queue`: from `start` (elapsed `acc_start`) to `end`,
    by `calendar`."""

    start: float
    acc_start: float
    calendar: Calendar
    queue: QueueRef
    end: float | None = None
    acc_end: float | None = None


@dataclass(frozen=True, slots=True)
class PendingAlert:
    """An alert to fire at `fire_at` unless the clock is met, stopped or moved first."""

    contact_id: str
    target: SlaTarget
    kind: AlertKind
    cycle: int
    level: int
    fire_at: float
    due_at: float
    queue: QueueRef
    priority: int
    priority_label: str
    channel: Channel
    target_seconds: int
    elapsed: float
    rule: str
    waited: tuple[tuple[QueueRef, float], ...] = ()
    wall_seconds: float | None = None
    paused_seconds: float | None = None
    contract: str | None = None
    team: str | None = None  # set for an OLA's alert: the receiving team
    held_until: float | None = None  # quiet hours: sent at the team's next opening

    @property
    def key(self) -> tuple[str, str, str, int, int, str | None]:
        return (
            self.contact_id,
            self.target.value,
            self.kind.value,
            self.level,
            self.cycle,
            self.team,
        )

    @property
    def send_at(self) -> float:
        """When the alert is sent: when the level is reached, or the end of quiet hours."""
        return self.fire_at if self.held_until is None else self.held_until


@dataclass
class Clock:
    """One cycle of one target; `cycle` counts from 1."""

    target: ResolvedTarget
    cycle: int
    started_at: float
    segments: list[Segment]
    status: ClockStatus = ClockStatus.RUNNING
    ended_at: float | None = None
    team: str | None = None  # an OLA's clock: the receiving team
    hours: Calendar | None = None  # the team's hours, if not its queue's (quiet hours)

    @classmethod
    def start(
        cls, target: ResolvedTarget, cycle: int, at: float, calendar: Calendar, queue: QueueRef
    ) -> Clock:
        return cls(target, cycle, at, [Segment(at, 0.0, calendar, queue)])

    def queue_at(self, at: float) -> QueueRef:
        """The queue the clock counted in at `at`."""
        return next(
            (s.queue for s in reversed(self.segments) if s.start <= at), self.segments[0].queue
        )

    @property
    def active(self) -> bool:
        return self.status in (ClockStatus.RUNNING, ClockStatus.PAUSED)

    def elapsed(self, at: float) -> float:
        """Business seconds counted by `at` (pauses excluded)."""
        last = self.segments[-1]
        if last.end is not None:
            assert last.acc_end is not None
            return last.acc_end
        return last.acc_start + last.calendar.business_seconds(last.start, max(at, last.start))

    def pause(self, at: float) -> None:
        if self.status is ClockStatus.RUNNING:
            self._close(at)
            self.status = ClockStatus.PAUSED

    def resume(self, at: float, calendar: Calendar, queue: QueueRef) -> None:
        if self.status is ClockStatus.PAUSED:
            self.segments.append(Segment(at, self.elapsed(at), calendar, queue))
            self.status = ClockStatus.RUNNING

    def switch(self, at: float, calendar: Calendar, queue: QueueRef) -> None:
        """Count in `queue` by `calendar` from `at` on (a paused clock resumes in it anyway)."""
        if self.status is ClockStatus.RUNNING:
            self._close(at)
            self.segments.append(Segment(at, self.elapsed(at), calendar, queue))

    def finish(self, at: float, status: ClockStatus) -> None:
        if self.active:
            if self.status is ClockStatus.RUNNING:
                self._close(at)
            self.status = status
            self.ended_at = at

    def _close(self, at: float) -> None:
        last = self.segments[-1]
        last.end = max(at, last.start)
        last.acc_end = last.acc_start + last.calendar.business_seconds(last.start, last.end)

    def crossings(self, thresholds: Sequence[float]) -> list[float | None]:
        """When elapsed time reached (or, running, will reach) each ascending threshold;
        None: not reached (paused, met or stopped first), or never (`never_due`)."""
        found: list[float | None] = []
        i = 0
        for seg in self.segments:
            upto = [t for t in thresholds[i:] if seg.acc_end is None or t <= seg.acc_end]
            if upto:
                offsets = [max(0.0, t - seg.acc_start) for t in upto]
                found += reach(seg.calendar, seg.start, offsets)
                i += len(upto)
        return found + [None] * (len(thresholds) - len(found))

    def never_due(self) -> str | None:
        """Why the running clock never reaches its target, if it does not: its calendar has
        no open time within its horizon first (None: it does, or the clock is not running)."""
        if self.status is not ClockStatus.RUNNING:
            return None
        (due,) = self.crossings([float(self.target.seconds)])
        if due is not None:
            return None
        return (
            f"calendar {self.segments[-1].calendar.id} has no open time for"
            f" {MAX_SEARCH_DAYS} days before the target is reached: it never falls due"
        )

    def waited(self, elapsed: float) -> list[tuple[QueueRef, float]]:
        """Business seconds counted in each queue until `elapsed`, in the order reached."""
        found: dict[QueueRef, float] = {}
        for seg in self.segments:
            upto = elapsed if seg.acc_end is None else min(seg.acc_end, elapsed)
            if upto > seg.acc_start:
                found[seg.queue] = found.get(seg.queue, 0.0) + upto - seg.acc_start
        return list(found.items())

    def paused_before(self, at: float) -> float:
        """Wall seconds paused between the clock's start and `at`."""
        return sum(
            min(nxt.start, at) - prev.end
            for prev, nxt in zip(self.segments, self.segments[1:], strict=False)
            if prev.end is not None and prev.end < at
        )

    def projected_due(self, elapsed: float) -> float | None:
        """The breach instant as it looked when `elapsed` was reached, had the clock run on
        (None: its calendar never got there)."""
        seg = next(
            (s for s in self.segments if s.acc_end is None or elapsed <= s.acc_end),
            self.segments[-1],
        )
        return reach(seg.calendar, seg.start, [max(0.0, self.target.seconds - seg.acc_start)])[0]


@dataclass
class ContactClocks:
    """The state of a contact's clocks after its whole history."""

    decision: Decision
    policy_version: str
    queue: QueueRef
    status: ContactStatus = ContactStatus.OPEN
    clocks: dict[SlaTarget, list[Clock]] = field(default_factory=dict)
    first_response_at: float | None = None
    resolved_at: float | None = None
    abandoned_at: float | None = None
    paused: bool = False
    olas: list[Clock] = field(default_factory=list)
    hours_of: Callable[[QueueRef], Calendar] = field(default=lambda _: TWENTY_FOUR_SEVEN)

    def current(self, target: SlaTarget) -> Clock | None:
        cycles = self.clocks.get(target)
        return cycles[-1] if cycles else None

    def pending_alerts(self) -> list[PendingAlert]:
        """Alerts still to fire: levels of active clocks that have been or will be reached.

        A paused clock schedules only the levels it reached before the pause (if their
        alert has not fired yet); met or stopped clocks schedule nothing. A warning held by
        quiet hours until its breach or later is not scheduled (`quiet.superseded`), nor a
        level of a target that never falls due.
        """
        found: list[PendingAlert] = []
        current = [self.current(t) for t in SlaTarget]
        for clock in [*current, *self.olas]:
            if clock is None or not clock.active or clock.cycle > MAX_CYCLE:
                continue
            levels = clock.target.levels
            crossings = clock.crossings([lv.threshold for lv in levels])
            breach = next(
                (
                    at
                    for lv, at in zip(levels, crossings, strict=True)
                    if lv.kind is AlertKind.BREACH
                ),
                None,
            )
            if breach is None and clock.status is ClockStatus.RUNNING:
                continue  # its calendar never lets the target fall due (`Clock.never_due`)
            for level, at in zip(levels, crossings, strict=True):
                if at is None:
                    continue
                due = self.due_of(clock, level, breach)
                if due is None:  # paused, in a calendar that would never have got there
                    continue
                alert = self._alert(clock, level, at, due)
                if not superseded(level.kind, alert.send_at, breach):
                    found.append(alert)
        return found

    @staticmethod
    def due_of(clock: Clock, level: Level, breach: float | None) -> float | None:
        """The due instant a level's alert names: its cycle's breach, or (not reached: the
        clock paused first) the breach as projected when the level was; None: never due."""
        return breach if breach is not None else clock.projected_due(level.threshold)

    def held_until(self, clock: Clock, level: Level, at: float) -> float | None:
        """When quiet hours send the level reached at `at` (None: at once)."""
        if clock.target.spec.outside_hours != "hold":
            return None
        return held_until(level.kind, clock.hours or self.hours_of(clock.queue_at(at)), at)

    def send_at(self, clock: Clock, level: Level, at: float) -> float:
        """When the level reached at `at` is sent: then, or when quiet hours end."""
        held = self.held_until(clock, level, at)
        return at if held is None else held

    def _alert(self, clock: Clock, level: Level, at: float, due: float) -> PendingAlert:
        d = self.decision
        queue = self.queue if clock.team is None else clock.queue_at(at)
        held = self.held_until(clock, level, at)
        return PendingAlert(
            contact_id=d.contact_id,
            target=clock.target.target,
            kind=level.kind,
            cycle=clock.cycle,
            level=level.number,
            fire_at=at,
            due_at=due,
            queue=queue,
            priority=d.priority,
            priority_label=d.priority_label,
            channel=d.channel,
            target_seconds=clock.target.seconds,
            elapsed=level.threshold,
            rule=clock.target.rule,
            waited=tuple(clock.waited(level.threshold)),
            wall_seconds=at - clock.started_at,
            paused_seconds=clock.paused_before(at),
            contract=clock.target.contract,
            team=clock.team,
            held_until=held,
        )

    def first_response_outcome(self) -> tuple[FirstResponse, float | None, float | None]:
        """(outcome, projected breach instant if pending, elapsed at the response)."""
        return outcome(self.current(SlaTarget.FIRST_RESPONSE))


def outcome(clock: Clock | None) -> tuple[FirstResponse, float | None, float | None]:
    """How a response clock went: (outcome, projected breach if pending, elapsed when met)."""
    if clock is None:
        return FirstResponse.EXCLUDED, None, None
    if clock.status is ClockStatus.MET:
        assert clock.ended_at is not None
        elapsed = clock.elapsed(clock.ended_at)
        met = elapsed <= clock.target.seconds
        return (FirstResponse.MET if met else FirstResponse.MISSED), None, elapsed
    if clock.status is ClockStatus.STOPPED:
        assert clock.ended_at is not None
        late = clock.elapsed(clock.ended_at) > clock.target.seconds
        return (FirstResponse.MISSED if late else FirstResponse.EXCLUDED), None, None
    (due,) = clock.crossings([float(clock.target.seconds)])
    return FirstResponse.PENDING, due, None


def fold(decision: Decision, steps: Iterable[Step], policy: SlaPolicy) -> ContactClocks:
    """The clocks of a contact after its decision and every lifecycle step known so far."""
    from sla_monitor.domain.ola import fold_olas  # ola.py builds on this module's clocks

    steps = list(steps)
    targets = policy.targets_for(decision.facts)
    queue_calendar, _ = policy.calendar_for(decision.queue.id, decision.queue.kind)
    state = ContactClocks(decision, policy.version, decision.queue)
    state.hours_of = lambda q: policy.calendar_for(q.id, q.kind)[0]
    state.olas = fold_olas(decision, steps, policy)

    def calendar_of(target: ResolvedTarget) -> Calendar:
        return queue_calendar if target.basis == "business" else TWENTY_FOUR_SEVEN

    def start(target: SlaTarget, at: float) -> None:
        resolved = targets.get(target)
        if resolved is None:
            return
        cycles = state.clocks.setdefault(target, [])
        clock = Clock.start(resolved, len(cycles) + 1, at, calendar_of(resolved), state.queue)
        cycles.append(clock)

    def each_active() -> list[Clock]:
        return [c for c in (state.current(t) for t in SlaTarget) if c is not None and c.active]

    start(SlaTarget.FIRST_RESPONSE, decision.arrived_at)
    start(SlaTarget.RESOLUTION, decision.arrived_at)

    for step in sorted(steps, key=lambda s: (s.at, s.seq)):
        at = max(step.at, decision.arrived_at)
        kind = step.kind
        if state.status is not ContactStatus.OPEN:
            if kind is LifecycleKind.REOPENED and state.status is ContactStatus.RESOLVED:
                state.status, state.resolved_at, state.paused = ContactStatus.OPEN, None, False
                start(SlaTarget.RESOLUTION, at)
            continue
        if kind is LifecycleKind.FIRST_RESPONSE:
            clock = state.current(SlaTarget.FIRST_RESPONSE)
            if clock is not None:
                clock.finish(at, ClockStatus.MET)
            if state.first_response_at is None:
                state.first_response_at = at
        elif kind is LifecycleKind.AGENT_REPLIED:
            clock = state.current(SlaTarget.NEXT_RESPONSE)
            if clock is not None:
                clock.finish(at, ClockStatus.MET)
        elif kind is LifecycleKind.CUSTOMER_REPLIED:
            _resume(state, each_active(), at, calendar_of)
            clock = state.current(SlaTarget.NEXT_RESPONSE)
            if state.first_response_at is not None and (clock is None or not clock.active):
                start(SlaTarget.NEXT_RESPONSE, at)
        elif kind is LifecycleKind.RESUMED:
            _resume(state, each_active(), at, calendar_of)
        elif kind is LifecycleKind.WAITING_ON_CUSTOMER:
            for clock in each_active():
                clock.pause(at)
            state.paused = True
        elif kind is LifecycleKind.RESOLVED:
            for clock in each_active():
                met = clock.target.target is SlaTarget.RESOLUTION
                clock.finish(at, ClockStatus.MET if met else ClockStatus.STOPPED)
            state.status, state.resolved_at, state.paused = ContactStatus.RESOLVED, at, False
        elif kind is LifecycleKind.ABANDONED:
            for clock in each_active():
                clock.finish(at, ClockStatus.STOPPED)
            state.status, state.abandoned_at, state.paused = ContactStatus.ABANDONED, at, False
        elif kind is LifecycleKind.TRANSFERRED and step.to_queue_id is not None:
            known = policy.queues.get(step.to_queue_id)
            if known is None:
                continue
            state.queue = QueueRef(known.id, known.kind, known.vendor)
            queue_calendar, _ = policy.calendar_for(known.id, known.kind)
            for clock in each_active():
                clock.switch(at, calendar_of(clock.target), state.queue)
    return state


def _resume(
    state: ContactClocks,
    clocks: list[Clock],
    at: float,
    calendar_of: Callable[[ResolvedTarget], Calendar],
) -> None:
    for clock in clocks:
        clock.resume(at, calendar_of(clock.target), state.queue)
    state.paused = False
