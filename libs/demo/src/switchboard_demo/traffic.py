"""Demo traffic: a reproducible, timed stream of contacts and their lifecycle events.

Pure: no I/O. `generate_traffic` yields records in the order they are due;
the CLI publishes each one when its time comes. The same seed gives the same
contacts, spellings, scenarios and delays; `run_id` only goes into the ids, so
two runs of one seed against the same database do not collide on event ids.
"""

import heapq
import itertools
import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from switchboard_demo.agents import Step, plan_lifecycle
from switchboard_demo.contacts import Directory, draw_contact
from switchboard_demo.customers import Customer
from switchboard_events import (
    CONTACTS_INBOUND,
    CONTACTS_LIFECYCLE,
    ContactLifecycle,
    ContactLifecycleData,
    ContactReceived,
    LifecycleKind,
    derive_id,
    encode,
)

DEFAULT_SEED = 7
MALFORMED_KINDS = ("not_json", "not_utf8", "schema_violation", "unknown_event_type")
_SOURCE = {
    "call": "connector/telephony",
    "chat": "connector/chat",
    "email": "connector/email",
    "social": "connector/social",
}


@dataclass(frozen=True)
class TrafficConfig:
    """What to generate: how fast, for how long, and how much of it broken."""

    seed: int = DEFAULT_SEED
    rate: float = 2.0
    """Contacts per second (Poisson arrivals)."""
    duration: float | None = None
    """Seconds of traffic; None for endless. Events due later are not generated."""
    malformed_share: float = 0.0
    """Share of contacts replaced by a record that must be dead-lettered."""
    time_scale: float = 1.0
    """Multiplies every lifecycle delay (0.1 makes agents ten times faster)."""
    run_id: str = "demo"

    def __post_init__(self) -> None:
        """Refuse settings that cannot make traffic, naming the bad value."""
        if not self.rate > 0:
            raise ValueError(f"rate must be > 0 contacts/s, got {self.rate}")
        if self.duration is not None and not self.duration > 0:
            raise ValueError(f"duration must be > 0 seconds, got {self.duration}")
        if not 0 <= self.malformed_share <= 1:
            raise ValueError(f"malformed_share must be within 0..1, got {self.malformed_share}")
        if not self.time_scale > 0:
            raise ValueError(f"time_scale must be > 0, got {self.time_scale}")


@dataclass(frozen=True)
class Outgoing:
    """One record to publish `at` seconds after the start."""

    at: float
    topic: str
    key: str
    value: bytes
    kind: str
    """The channel of a contact, the kind of a lifecycle event, or "malformed:<error class>"."""


def generate_traffic(
    customers: Sequence[Customer], config: TrafficConfig, start: datetime
) -> Iterator[Outgoing]:
    """Every record of the run, in the order they are due; endless without a duration."""
    directory = Directory(customers)
    arrivals = random.Random(f"{config.seed}:arrivals")
    breakage = random.Random(f"{config.seed}:malformed")
    due: list[tuple[float, int, Outgoing]] = []
    order = itertools.count()
    now = 0.0
    for n in itertools.count(1):
        now += arrivals.expovariate(config.rate)
        if config.duration is not None and now > config.duration:
            break
        # Draw both every time, so the share changes which contacts break, not the others.
        broken, kind = breakage.random() < config.malformed_share, breakage.choice(MALFORMED_KINDS)
        for item in _contact_records(n, now, directory, config, start):
            if broken:
                if item.topic != CONTACTS_INBOUND:
                    continue  # a contact that never arrived has no lifecycle
                item = Outgoing(
                    item.at, item.topic, item.key, malform(item.value, kind), f"malformed:{kind}"
                )
            heapq.heappush(due, (item.at, next(order), item))
        while due and due[0][0] <= now:
            yield heapq.heappop(due)[2]
    # Only a run with a duration gets here: send what is due before it ends.
    while due and config.duration is not None and due[0][0] <= config.duration:
        yield heapq.heappop(due)[2]


def _contact_records(
    n: int, arrival: float, directory: Directory, config: TrafficConfig, start: datetime
) -> list[Outgoing]:
    # One generator per contact: its content depends on the seed and n only.
    rng = random.Random(f"{config.seed}:{n}")
    event_id = derive_id("demo.contact.received", config.run_id, str(config.seed), str(n))
    data = draw_contact(rng, directory, event_id.replace("-", "")[:12])
    contact_id = data.contact_id
    sent = arrival + rng.uniform(0.01, 0.3)
    event = ContactReceived(
        id=event_id,
        source=_SOURCE[data.channel.value],
        subject=contact_id,
        time=start + timedelta(seconds=arrival),
        producedtime=start + timedelta(seconds=sent),
        data=data,
    )
    records = [Outgoing(sent, CONTACTS_INBOUND, contact_id, encode(event), data.channel.value)]
    steps = plan_lifecycle(rng, data.channel, data.contact_type, config.time_scale)
    for i, step in enumerate(steps):
        at = max(arrival + step.after, sent)  # never before the contact itself
        lifecycle = _lifecycle_event(
            derive_id("demo.lifecycle", event_id, str(i)),
            contact_id,
            step,
            start + timedelta(seconds=at),
        )
        records.append(
            Outgoing(at, CONTACTS_LIFECYCLE, contact_id, encode(lifecycle), step.kind.value)
        )
    return records


def _lifecycle_event(
    event_id: str, contact_id: str, step: Step, time: datetime
) -> ContactLifecycle:
    source = {
        LifecycleKind.CSAT_RECORDED: "ticketing/survey",
        LifecycleKind.CUSTOMER_REPLIED: "connector/customer",
    }
    return ContactLifecycle(
        id=event_id,
        source=source.get(step.kind, "desktop/agent"),
        subject=contact_id,
        time=time,
        producedtime=time,
        data=ContactLifecycleData(
            contact_id=contact_id,
            kind=step.kind,
            agent_id=step.agent_id,
            csat_score=step.csat_score,
            to_queue_id=step.to_queue_id,
            reason=step.reason,
        ),
    )


def malform(raw: bytes, kind: str) -> bytes:
    """Break an encoded event so that decoding fails with error class `kind`."""
    if kind == "not_json":
        return raw[: len(raw) // 2]
    if kind == "not_utf8":
        return raw.replace(b'"data"', b'"d\xe4ta"', 1)  # a Latin-1 byte
    document = json.loads(raw)
    if kind == "schema_violation":
        document["time"] = document["time"][:19]  # drop the UTC offset
    elif kind == "unknown_event_type":
        document["type"] = "switchboard.contact.updated.v1"
    else:
        raise ValueError(f"expected one of {', '.join(MALFORMED_KINDS)}, got {kind!r}")
    return json.dumps(document, ensure_ascii=False).encode()
