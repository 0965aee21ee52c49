"""The routing decision: priority, first matching rule, then placement with overflow.

`CompiledPolicy(spec, version)` compiles once per policy version; `decide` runs per
contact against a `Snapshot` (the instant and the live load of one batch).

Placement, in order (every step is recorded when explaining):

1. The chain is the action's queue and then its fallbacks. A contact that must stay
   in-house (a `never_outsource` tier or contact type) skips outsourced queues.
2. A queue is skipped when it does not serve the contact (channel, contact type or
   language, when the queue lists them), when it is closed by its calendar, or, for an
   in-house queue under an `overflow` policy, when its occupancy is above
   `max_occupancy` or the estimated wait for this contact is above `max_wait_share` of
   the contact's first-response target. The first queue that is not skipped wins.
3. If none wins and the contact may leave in-house, it overflows to the first
   `overflow.queues` entry that serves it and is open (a closed first choice overflows
   only with `on_closed`).
4. Otherwise it is never left unrouted: a contact that must stay in-house waits in the
   first in-house queue of the chain that serves it (open first, else closed), else in
   `never_outsource.in_house_fallback`; any other contact waits in the first queue of
   the chain that serves it and is open, else the first queue of the chain.

A decision whose queue is not the chain's first records an `overflow` from that first
queue with the first reason it was skipped for.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from router.domain.policy import Action, PolicySpec, QueueSpec, Visibility
from router.domain.rules import Condition, Facts, Scored, compile_match, language_matches
from switchboard_calendars import Calendar
from switchboard_events import Channel, QueueKind
from switchboard_events.routing import MAX_PRIORITY
from switchboard_planning.erlang import expected_wait

DEFAULT_RULE = "default"
OUTSIDE_HOURS = "outside_business_hours"
WAIT_BREACHES_SLA = "expected_wait_breaches_sla"
QUEUE_FULL = "queue_full"
MAX_REASONS = 16
MAX_REASON_CHARS = 256
_CHANNELS = {c.value: c for c in Channel}


@dataclass(frozen=True, slots=True)
class Queue:
    """A compiled queue."""

    spec: QueueSpec
    calendar: Calendar
    types: frozenset[str]
    languages: tuple[str, ...]
    # Copied from the spec once: read for every contact, a property costs a call each time.
    id: str = field(init=False)
    kind: QueueKind = field(init=False)
    visibility: Visibility = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", self.spec.id)
        object.__setattr__(self, "kind", self.spec.kind)
        object.__setattr__(self, "visibility", self.spec.visibility)

    def concurrency(self, channel: Channel) -> int:
        return self.spec.capacity.concurrency.get(channel, 1)

    def refuses(self, facts: Facts) -> str | None:
        """Why this queue cannot serve the contact, or None when it can."""
        if facts.channel not in self.spec.channels:
            return f"does not serve channel {facts.channel.value}"
        if self.types and facts.contact_type not in self.types:
            return f"does not serve contact type {facts.contact_type}"
        if (
            self.languages
            and facts.language
            and not language_matches(facts.language, self.languages)
        ):
            return f"does not serve language {facts.language}"
        return None


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    conditions: tuple[Condition, ...]
    action: Action
    chain: tuple[Queue, ...]
    """The action's queue, then its fallbacks, each once: resolved when the policy compiles."""


class OverflowNote(NamedTuple):
    from_queue: str
    reason: str
    expected_wait_seconds: float | None


class Decision(NamedTuple):
    """A contact's placement (a tuple: one per contact, cheaper to build than a frozen
    dataclass)."""

    queue: Queue
    rule: str
    priority: int
    label: str
    factors: tuple[tuple[str, int], ...]
    reasons: tuple[str, ...]
    overflow: OverflowNote | None
    steps: tuple[str, ...] = ()


class Snapshot:
    """One instant and the live load (open contacts per queue and channel) of one batch.

    Calendar answers and estimates are cached for the batch; `place` counts each
    decision in, so later contacts of the same batch see it.
    """

    def __init__(
        self, policy: CompiledPolicy, now: datetime, open_contacts: Mapping[tuple[str, str], int]
    ) -> None:
        self.policy = policy
        self.now = now
        self._open: dict[str, bool] = {}
        self._counts: dict[str, dict[str, int]] = {}
        for (queue_id, channel), count in open_contacts.items():
            self._counts.setdefault(queue_id, {})[channel] = count
        self._work: dict[str, float] = {}

    def is_open(self, queue_id: str) -> bool:
        if queue_id not in self._open:
            self._open[queue_id] = self.policy.queues[queue_id].calendar.is_open(
                self.now.timestamp()
            )
        return self._open[queue_id]

    def open_contacts(self, queue_id: str) -> dict[str, int]:
        return dict(self._counts.get(queue_id, {}))

    def work(self, queue: Queue) -> float:
        """Open contacts in agent-equivalents: each takes 1/concurrency of an agent."""
        if queue.id not in self._work:
            counts = self._counts.get(queue.id, {})
            self._work[queue.id] = sum(
                n / queue.concurrency(_CHANNELS[ch]) for ch, n in counts.items() if ch in _CHANNELS
            )
        return self._work[queue.id]

    def occupancy(self, queue: Queue) -> float:
        agents = queue.spec.capacity.agents
        work = self.work(queue)
        if agents == 0:
            return math.inf if work > 0 else 0.0
        return work / agents

    def wait(self, queue: Queue, channel: Channel) -> float:
        """Estimated wait (s) for a new contact of `channel`, by Erlang C.

        Slots N = agents x concurrency[channel]; traffic A = the open contacts of every
        channel at the queue converted into slots of this channel (an open contact of
        channel k takes 1/concurrency[k] of an agent). Open contacts stand in for the
        offered load: in a stable queue the contacts in service are the offered traffic
        (Little's law). A >= N, or no agents, is saturated: an unbounded wait.
        """
        concurrency = queue.concurrency(channel)
        slots = queue.spec.capacity.agents * concurrency
        traffic = self.work(queue) * concurrency
        return expected_wait(slots, traffic, self.policy.spec.handle_time_seconds[channel])

    def place(self, queue_id: str, channel: Channel) -> None:
        counts = self._counts.setdefault(queue_id, {})
        counts[channel.value] = counts.get(channel.value, 0) + 1
        self._work.pop(queue_id, None)


@dataclass
class _Trace:
    explain: bool
    reasons: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)

    def step(self, text: str) -> None:
        if self.explain:
            self.steps.append(text)

    def reason(self, text: str) -> None:
        self.reasons.append(text[:MAX_REASON_CHARS])
        self.step(text)


def _seconds(value: float) -> str:
    return "unbounded (saturated)" if math.isinf(value) else f"{value:.0f} s"


class CompiledPolicy:
    """A validated policy, compiled once: calendars, queues, rule predicates, bands."""

    def __init__(self, spec: PolicySpec, version: str) -> None:
        self.spec = spec
        self.version = version
        calendars = {c.id: Calendar.compile(c) for c in spec.calendars}
        self.queues: dict[str, Queue] = {
            q.id: Queue(
                q,
                calendars[q.calendar],
                frozenset(q.contact_types),
                tuple(lang.replace("_", "-") for lang in q.languages),
            )
            for q in spec.queues
        }
        self.rules = tuple(
            Rule(r.id, compile_match(r.match), r.action, self._chain(r.action)) for r in spec.rules
        )
        self._default = Rule(DEFAULT_RULE, (), spec.default, self._chain(spec.default))
        self._bands = sorted(spec.priority.bands, key=lambda b: b.min, reverse=True)
        never = spec.never_outsource
        self._protected_tiers = frozenset(never.tiers) if never else frozenset()
        self._sensitive = frozenset(never.contact_types) if never else frozenset()

    def _chain(self, action: Action) -> tuple[Queue, ...]:
        return tuple(self.queues[q] for q in dict.fromkeys([action.queue, *action.fallback]))

    def label(self, score: int) -> str:
        return next(b.label for b in self._bands if score >= b.min)

    def first_response_target(self, channel: Channel, label: str) -> int:
        sla = self.spec.sla
        return (
            sla.by_priority_label.get(label, {}).get(channel) or sla.first_response_seconds[channel]
        )

    def _base_priority(self, facts: Facts) -> tuple[int, list[tuple[str, int]]]:
        p = self.spec.priority
        factors = [("base", p.base)] if p.base else []
        # Each factor's name is formatted only when it contributes.
        if value := p.channel.get(facts.channel, 0):
            factors.append((f"channel:{facts.channel.value}", value))
        if value := p.contact_type.get(facts.contact_type, 0):
            factors.append((f"type:{facts.contact_type}", value))
        if facts.tier and (value := p.tier.get(facts.tier, 0)):
            factors.append((f"tier:{facts.tier}", value))
        if facts.repeat and p.repeat_contact:
            factors.append(("repeat_contact", p.repeat_contact))
        if facts.hint and (value := p.hint.get(facts.hint, 0)):
            factors.append((f"hint:{facts.hint}", value))
        return sum(v for _, v in factors), factors

    def _protected(self, facts: Facts) -> str | None:
        if facts.tier in self._protected_tiers:
            return f"tier {facts.tier} stays in-house"
        if facts.contact_type in self._sensitive:
            return f"contact type {facts.contact_type} is sensitive and stays in-house"
        return None

    def decide(self, facts: Facts, snap: Snapshot, explain: bool = False) -> Decision:
        """Route one contact; counts it into `snap` so the batch's next contacts see it."""
        trace = _Trace(explain)
        base, factors = self._base_priority(facts)
        scored = Scored(max(0, min(MAX_PRIORITY, base)), self.label(max(0, base)))
        rule = self._match(facts, snap, scored, trace)
        adjust = rule.action.priority_adjust
        if adjust:
            factors.append((f"rule:{rule.id}", adjust))
        score = max(0, min(MAX_PRIORITY, base + adjust))
        label = self.label(score)
        if explain:  # steps are for people; not formatted on the hot path
            trace.step(
                f"priority {score} ({label}) = "
                + (" + ".join(f"{n} {v}" for n, v in factors) if factors else "0")
            )
        queue, overflow = self._place(facts, rule.chain, snap, label, trace)
        snap.place(queue.id, facts.channel)
        if explain:
            trace.step(f"decision: queue {queue.id} ({queue.kind.value})")
        return Decision(
            queue=queue,
            rule=rule.id,
            priority=score,
            label=label,
            factors=tuple(factors),
            reasons=tuple(trace.reasons[:MAX_REASONS]),
            overflow=overflow,
            steps=tuple(trace.steps),
        )

    def _match(self, facts: Facts, snap: Snapshot, scored: Scored, trace: _Trace) -> Rule:
        for rule in self.rules:
            # A plain loop: all() over a generator costs a frame per rule and contact.
            for condition in rule.conditions:
                if not condition.test(facts, snap, scored):
                    break
            else:
                said = [c.say(facts, snap, scored) for c in rule.conditions]
                trace.reason(f"rule {rule.id}: " + (", ".join(said) or "matches every contact"))
                if rule.action.reason:
                    trace.reason(rule.action.reason)
                return rule
            if trace.explain:
                failed = [
                    c.say(facts, snap, scored)
                    for c in rule.conditions
                    if not c.test(facts, snap, scored)
                ]
                trace.step(f"rule {rule.id}: no match ({'; '.join(failed)})")
        trace.reason("no rule matched: default route")
        if self.spec.default.reason:
            trace.reason(self.spec.default.reason)
        return self._default

    def _busy(
        self, queue: Queue, facts: Facts, snap: Snapshot, label: str
    ) -> tuple[str, float | None, str] | None:
        """Why an open in-house queue should not take the contact now, per the overflow policy."""
        overflow = self.spec.overflow
        if overflow is None or queue.kind != QueueKind.IN_HOUSE:
            return None
        occupancy = snap.occupancy(queue)
        wait = snap.wait(queue, facts.channel)
        shown_wait = None if math.isinf(wait) else round(wait, 1)
        if overflow.max_occupancy is not None and occupancy > overflow.max_occupancy:
            return (
                QUEUE_FULL,
                shown_wait,
                f"{queue.id} occupancy {occupancy:.0%} is above {overflow.max_occupancy:.0%}",
            )
        if overflow.max_wait_share is not None:
            target = self.first_response_target(facts.channel, label)
            limit = overflow.max_wait_share * target
            if wait > limit:
                return (
                    WAIT_BREACHES_SLA,
                    shown_wait,
                    f"{queue.id} estimated wait {_seconds(wait)} is above {overflow.max_wait_share:.0%}"
                    f" of the {target} s first-response target",
                )
        return None

    def _place(
        self, facts: Facts, chain: tuple[Queue, ...], snap: Snapshot, label: str, trace: _Trace
    ) -> tuple[Queue, OverflowNote | None]:
        first = chain[0]
        protected = self._protected(facts)
        first_skip: tuple[str, float | None] | None = None
        for queue in chain:
            if protected and queue.kind == QueueKind.OUTSOURCED:
                if trace.explain:
                    trace.step(f"skip {queue.id}: outsourced, and {protected}")
                continue
            refusal = queue.refuses(facts)
            if refusal:
                if trace.explain:
                    trace.step(f"skip {queue.id}: {refusal}")
                continue
            if not snap.is_open(queue.id):
                trace.reason(f"{queue.id} is closed (outside business hours)")
                if trace.explain:
                    trace.step(queue.calendar.explain(snap.now))
                first_skip = first_skip or (OUTSIDE_HOURS, None)
                continue
            busy = self._busy(queue, facts, snap, label)
            if busy is not None:
                trace.reason(busy[2])
                first_skip = first_skip or (busy[0], busy[1])
                continue
            if trace.explain:
                trace.step(self._load_text(queue, facts, snap))
            return queue, self._note(first, queue, first_skip)

        overflow = self.spec.overflow
        if protected:
            trace.reason(protected)
        elif overflow is not None and first_skip is not None:
            if first_skip[0] == OUTSIDE_HOURS and not overflow.on_closed:
                trace.step("overflow on closed queues is off (overflow.on_closed: false)")
            else:
                for queue_id in overflow.queues:
                    queue = self.queues[queue_id]
                    refusal = queue.refuses(facts)
                    if refusal or not snap.is_open(queue.id):
                        trace.step(f"overflow {queue.id}: {refusal or 'closed'}")
                        continue
                    trace.reason(f"overflow to {queue.id} ({queue.spec.vendor})")
                    return queue, self._note(first, queue, first_skip)
        return self._last_resort(chain, facts, snap, protected, first_skip, trace)

    def _last_resort(
        self,
        chain: tuple[Queue, ...],
        facts: Facts,
        snap: Snapshot,
        protected: str | None,
        first_skip: tuple[str, float | None] | None,
        trace: _Trace,
    ) -> tuple[Queue, OverflowNote | None]:
        allowed = [
            q
            for q in chain
            if q.refuses(facts) is None and not (protected and q.kind == QueueKind.OUTSOURCED)
        ]
        open_ones = [q for q in allowed if snap.is_open(q.id)]
        if open_ones:
            queue = open_ones[0]
        elif allowed:
            queue = allowed[0]
        elif protected and self.spec.never_outsource is not None:
            queue = self.queues[self.spec.never_outsource.in_house_fallback]
        else:
            queue = chain[0]
        state = "open" if snap.is_open(queue.id) else "closed: waits for opening"
        trace.reason(f"no better queue: stays in {queue.id} ({state})")
        return queue, self._note(chain[0], queue, first_skip)

    @staticmethod
    def _note(
        first: Queue, chosen: Queue, skip: tuple[str, float | None] | None
    ) -> OverflowNote | None:
        if chosen is first or skip is None:
            return None
        return OverflowNote(first.id, skip[0], skip[1])

    @staticmethod
    def _load_text(queue: Queue, facts: Facts, snap: Snapshot) -> str:
        return (
            f"{queue.id} takes it: open, occupancy {snap.occupancy(queue):.0%},"
            f" estimated wait {_seconds(snap.wait(queue, facts.channel))}"
        )
