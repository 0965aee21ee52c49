"""What-if replay: recorded contacts through a candidate policy, in the simulation.

Two runs over the same contacts, the same handle times and the same patience:

- *before*: each contact in the queue it was recorded in, with the baseline policy's
  capacities and calendars (the policy in force): how the period played out;
- *after*: the candidate policy decides each contact at its arrival, from the load of
  the simulated queues at that instant, with the candidate's capacities and calendars.

What the router records, and so what the replay can use (`RecordedContact`):

- from the stored decision event: arrival time (the contact's event time; the period is
  chosen by it too, never by when the router decided), channel, contact type, language, tier,
  region, customer status, repeat contact, the priority hint (read back from its
  priority factor, when it counted), the queue, rule, priority, label and overflow of
  the real decision.
  The subject and custom attributes are not stored (they may be personal data): a
  contact whose recorded rule matched on them is given that rule's first keyword and
  attribute values (`infer_unrecorded`), so the candidate's rules on the same words see
  them; other contacts have neither (`blind_rules` names the rules concerned);
- from the contact's row: its status and when it was closed, by the closing lifecycle
  event's own time (`closed_at`), never when the router consumed it: a backlog read a day
  late does not make a day of handling. Arrival -> resolved (both event times) is the
  recorded time the contact took in its queue and is used as its handle time there.
  It includes any wait the contact had, so it overstates handling where queues waited.
  Arrival -> abandoned is its patience. A duration is unknown when the row has no
  `closed_at` (closed before the router recorded it) or it is not positive (clocks of
  two producers disagree): an unknown handle time is drawn like any other contact's, an
  unknown patience never abandons. Any other contact (moved to another queue, still
  open, or served before its patience ran out) draws a handle time from its queue's
  known ones for its channel (seeded); where the queue recorded none, from an
  exponential with the policy's `handle_time_seconds` mean. `HandleTimes.sources`
  counts which came from where.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from router.domain.engine import CompiledPolicy, Decision, Snapshot
from router.domain.policy import AttributeScalar
from router.domain.rules import Facts, normalise_language
from router.domain.simulation import (
    Arrival,
    Load,
    Outcome,
    Placement,
    Placer,
    QueueModel,
    simulate,
)
from switchboard_events import Channel, RoutingDecided

DRAIN_SECONDS = 14 * 86400
"""How long after the period contacts may still be served (queues closed for days)."""
DEFAULT_HANDLE_S = 300.0
RESOLVED, ABANDONED = "resolved", "abandoned"


@dataclass(frozen=True, slots=True)
class RecordedContact:
    contact_id: str
    arrived_at: datetime
    facts: Facts
    queue_id: str
    rule: str
    priority: int
    label: str
    overflow: tuple[str, str] | None
    """(from queue, reason) when the real decision overflowed."""
    status: str
    """open, resolved or abandoned"""
    duration_s: float | None
    """From arrival to resolution or abandonment (event times); None while open or unknown."""


def duration(arrived_at: datetime, status: str, closed_at: datetime | None) -> float | None:
    """Seconds from arrival to closing, None while open or unknown (see the module)."""
    if status not in (RESOLVED, ABANDONED) or closed_at is None:
        return None
    seconds = (closed_at - arrived_at).total_seconds()
    return seconds if seconds > 0 else None


def recorded_contact(
    event: RoutingDecided, status: str, closed_at: datetime | None
) -> RecordedContact:
    data = event.data
    customer = data.customer
    hint = next(
        (
            int(f.factor.removeprefix("hint:"))
            for f in data.priority_factors
            if f.factor.startswith("hint:") and f.factor.removeprefix("hint:").isdigit()
        ),
        None,
    )
    facts = Facts(
        channel=data.channel,
        contact_type=data.contact_type,
        tier=customer.tier if customer else None,
        language=normalise_language(data.language),
        region=customer.region if customer else None,
        status=data.customer_status.value,
        repeat=bool(customer and customer.repeat_contact),
        subject=None,
        attributes={},
        hint=hint,
    )
    return RecordedContact(
        contact_id=data.contact_id,
        arrived_at=data.arrived_at,
        facts=facts,
        queue_id=data.queue_id,
        rule=data.rule,
        priority=data.priority,
        label=data.priority_label,
        overflow=(data.overflow.from_queue, data.overflow.reason) if data.overflow else None,
        status=status,
        duration_s=duration(data.arrived_at, status, closed_at),
    )


def infer_unrecorded(
    contacts: Sequence[RecordedContact], baseline: CompiledPolicy
) -> list[RecordedContact]:
    """Each contact recorded as matching a subject or attribute rule of the baseline gets
    the subject and attributes that rule asked for (its first keyword and values)."""
    given: dict[str, tuple[str | None, dict[str, AttributeScalar]]] = {}
    for rule in baseline.spec.rules:
        match = rule.match
        if match.subject_keywords or match.attributes:
            attributes = {
                key: value[0] if isinstance(value, list) else value
                for key, value in (match.attributes or {}).items()
                if not (isinstance(value, list) and not value)
            }
            given[rule.id] = (
                match.subject_keywords[0] if match.subject_keywords else None,
                attributes,
            )
    out = []
    for contact in contacts:
        if contact.rule in given:
            subject, attributes = given[contact.rule]
            facts = contact.facts._replace(subject=subject, attributes=attributes)
            contact = replace(contact, facts=facts)
        out.append(contact)
    return out


def blind_rules(policy: CompiledPolicy) -> list[str]:
    """Rules whose conditions look at what the router does not record."""
    return [r.id for r in policy.spec.rules if r.match.subject_keywords or r.match.attributes]


@dataclass
class HandleTimes:
    """Handle times per (queue, channel) from the recorded contacts; the policy's otherwise."""

    contacts: Sequence[RecordedContact]
    fallback: Mapping[Channel, float]
    rng: random.Random
    sources: dict[str, int] = field(
        default_factory=lambda: {"own_record": 0, "queue_records": 0, "policy": 0}
    )

    def __post_init__(self) -> None:
        self._recorded: dict[tuple[str, Channel], list[float]] = {}
        for c in self.contacts:
            if c.status == RESOLVED and c.duration_s is not None:
                self._recorded.setdefault((c.queue_id, c.facts.channel), []).append(c.duration_s)

    def draw(self, contact: RecordedContact, queue_id: str) -> float:
        if (
            queue_id == contact.queue_id
            and contact.status == RESOLVED
            and contact.duration_s is not None
        ):
            self.sources["own_record"] += 1
            return contact.duration_s
        pool = self._recorded.get((queue_id, contact.facts.channel))
        if pool:
            self.sources["queue_records"] += 1
            return self.rng.choice(pool)
        self.sources["policy"] += 1
        mean = self.fallback.get(contact.facts.channel, DEFAULT_HANDLE_S)
        return self.rng.expovariate(1 / mean)


def queue_models(policy: CompiledPolicy) -> dict[str, QueueModel]:
    return {
        q.id: QueueModel(q.id, q.spec.capacity.agents, q.spec.capacity.concurrency, q.calendar)
        for q in policy.queues.values()
    }


@dataclass(frozen=True, slots=True)
class Run:
    """One simulated run: where each contact went, why, and what happened to it."""

    queue_ids: list[str]
    labels: list[str]
    overflows: list[tuple[str, str] | None]
    """(from queue, reason) of each contact that overflowed."""
    whys: list[str]
    outcomes: list[Outcome]
    handle_sources: dict[str, int]


def _arrivals(contacts: Sequence[RecordedContact]) -> list[Arrival]:
    return [
        Arrival(
            c.arrived_at.timestamp(),
            c.facts.channel,
            c.duration_s if c.status == ABANDONED else None,
        )
        for c in contacts
    ]


def _simulate(
    contacts: Sequence[RecordedContact],
    policy: CompiledPolicy,
    place: Placer,
    until: datetime,
    progress: Callable[[int], None] | None,
) -> list[Outcome]:
    horizon = until.timestamp() + DRAIN_SECONDS
    return simulate(_arrivals(contacts), queue_models(policy), place, horizon, progress)


def replay_recorded(
    contacts: Sequence[RecordedContact],
    baseline: CompiledPolicy,
    until: datetime,
    seed: int,
    progress: Callable[[int], None] | None = None,
) -> Run:
    """The contacts in their recorded queues, with the baseline's queues."""
    handle = HandleTimes(contacts, baseline.spec.handle_time_seconds, random.Random(seed))

    def place(index: int, load: Load) -> Placement:
        c = contacts[index]
        return Placement(c.queue_id, c.priority, handle.draw(c, c.queue_id))

    outcomes = _simulate(contacts, baseline, place, until, progress)
    return Run(
        [c.queue_id for c in contacts],
        [c.label for c in contacts],
        [c.overflow for c in contacts],
        ["recorded" for _ in contacts],
        outcomes,
        handle.sources,
    )


def replay_candidate(
    contacts: Sequence[RecordedContact],
    candidate: CompiledPolicy,
    until: datetime,
    seed: int,
    progress: Callable[[int], None] | None = None,
) -> Run:
    """The candidate decides each contact on the simulated load at its arrival."""
    handle = HandleTimes(contacts, candidate.spec.handle_time_seconds, random.Random(seed))
    decisions: list[Decision | None] = [None] * len(contacts)

    def place(index: int, load: Load) -> Placement:
        c = contacts[index]
        decision = candidate.decide(c.facts, Snapshot(candidate, c.arrived_at, load))
        decisions[index] = decision
        return Placement(decision.queue.id, decision.priority, handle.draw(c, decision.queue.id))

    outcomes = _simulate(contacts, candidate, place, until, progress)
    made = [d for d in decisions if d is not None]
    assert len(made) == len(contacts), "every recorded contact arrives within the horizon"
    return Run(
        [d.queue.id for d in made],
        [d.label for d in made],
        [(d.overflow.from_queue, d.overflow.reason) if d.overflow else None for d in made],
        [f"overflow: {d.overflow.reason}" if d.overflow else f"rule {d.rule}" for d in made],
        outcomes,
        handle.sources,
    )
