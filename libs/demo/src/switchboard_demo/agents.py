"""Simulated agents: what happens to each contact after it arrives, and when.

Each contact follows one scenario (answered promptly, answered late, never
answered, abandoned, waiting on the customer, transferred). Delays are in
seconds after the contact's arrival, drawn per channel, and multiplied by the
time scale so a demo can be sped up or slowed down.
"""

import random
from dataclasses import dataclass, replace

from switchboard_events import Channel, LifecycleKind

AGENTS = 40

# (low, high) seconds to the first response when answered promptly, per channel.
_FIRST_RESPONSE = {
    Channel.CALL: (2.0, 20.0),
    Channel.CHAT: (5.0, 40.0),
    Channel.SOCIAL: (20.0, 120.0),
    Channel.EMAIL: (30.0, 300.0),
}
_LATE_FACTOR = (4.0, 10.0)
# (low, high) seconds from first response to resolution.
_HANDLING = {
    Channel.CALL: (30.0, 300.0),
    Channel.CHAT: (60.0, 600.0),
    Channel.SOCIAL: (120.0, 900.0),
    Channel.EMAIL: (300.0, 1800.0),
}
SCENARIOS = (
    ("prompt", 0.40),
    ("late", 0.18),
    ("unanswered", 0.10),
    ("abandoned", 0.12),
    ("waiting", 0.15),
    ("transferred", 0.05),
)


@dataclass(frozen=True)
class Step:
    """One lifecycle event of a contact, `after` seconds after its arrival."""

    after: float
    kind: LifecycleKind
    agent_id: str | None = None
    csat_score: int | None = None
    to_queue_id: str | None = None
    reason: str | None = None


def plan_lifecycle(
    rng: random.Random, channel: Channel, contact_type: str, time_scale: float = 1.0
) -> list[Step]:
    """The steps of one contact under a randomly drawn scenario, in time order."""
    names, weights = zip(*SCENARIOS, strict=True)
    scenario = rng.choices(names, weights)[0]
    if scenario == "abandoned" and channel == Channel.EMAIL:
        scenario = "unanswered"  # nobody hangs up on an email
    agent = f"agent-{rng.randint(1, AGENTS):03d}"
    low, high = _FIRST_RESPONSE[channel]
    first = rng.uniform(low, high)
    if scenario == "late":
        first *= rng.uniform(*_LATE_FACTOR)
    handling = rng.uniform(*_HANDLING[channel])
    steps = _steps(rng, scenario, agent, first, handling, contact_type)
    ordered = sorted(steps, key=lambda step: step.after)
    return [replace(step, after=step.after * time_scale) for step in ordered]


def _steps(
    rng: random.Random, scenario: str, agent: str, first: float, handling: float, contact_type: str
) -> list[Step]:
    assigned = Step(first * rng.uniform(0.3, 0.9), LifecycleKind.ASSIGNED, agent)
    if scenario == "unanswered":
        return [assigned] if rng.random() < 0.5 else []
    if scenario == "abandoned":
        return [Step(rng.uniform(10.0, 90.0), LifecycleKind.ABANDONED, reason="customer left")]
    steps = [assigned, Step(first, LifecycleKind.FIRST_RESPONSE, agent)]
    at = first
    if scenario == "transferred":
        other = f"agent-{rng.randint(1, AGENTS):03d}"
        at += handling * 0.2
        steps += [
            Step(
                at,
                LifecycleKind.TRANSFERRED,
                agent,
                to_queue_id=f"{contact_type}-specialists",
                reason="needs a specialist",
            ),
            Step(at + 5.0, LifecycleKind.ASSIGNED, other),
        ]
        agent = other
    if scenario == "waiting":
        at += handling * 0.3
        steps.append(Step(at, LifecycleKind.WAITING_ON_CUSTOMER, agent, reason="asked for details"))
        at += rng.uniform(20.0, 240.0)
        if rng.random() < 0.7:
            steps += [
                Step(at, LifecycleKind.CUSTOMER_REPLIED),
                Step(at + rng.uniform(5.0, 60.0), LifecycleKind.AGENT_REPLIED, agent),
            ]
        else:
            steps.append(Step(at, LifecycleKind.RESUMED, agent, reason="no reply, following up"))
    at += handling
    steps.append(Step(at, LifecycleKind.RESOLVED, agent))
    if rng.random() < 0.05:
        at += rng.uniform(60.0, 600.0)
        steps.append(Step(at, LifecycleKind.REOPENED, reason="customer says it is not fixed"))
        at += handling * 0.5
        steps.append(Step(at, LifecycleKind.RESOLVED, agent))
    if rng.random() < 0.6:
        score = rng.choices((1, 2, 3, 4, 5), (5, 8, 15, 35, 37))[0]
        steps.append(
            Step(at + rng.uniform(5.0, 120.0), LifecycleKind.CSAT_RECORDED, csat_score=score)
        )
    return steps
