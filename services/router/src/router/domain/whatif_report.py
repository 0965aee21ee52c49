"""The what-if report: both runs summed up per queue, for the period and per interval,
and which contacts moved where and why. Plain data (JSON-ready), rendered elsewhere.

- waits are counted in business time of the queue's calendar, as sla-monitor counts
  first response; average and 90th percentile over the contacts an agent took;
- service level: the share of contacts taken within their first-response target (the
  candidate's `sla`, by channel and the run's priority label); abandoned and unanswered
  contacts count as missed, against the candidate's `sla.target_share`;
- overflows are counted at the queue the contact overflowed from;
- cost: each queue's `cost_per_contact` in the run's policy (0 for a recorded queue the
  baseline does not know, shown as kind `unknown`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from router.domain.engine import CompiledPolicy
from router.domain.whatif import (
    RecordedContact,
    Run,
    blind_rules,
    infer_unrecorded,
    replay_candidate,
    replay_recorded,
)
from switchboard_events import Channel, QueueKind

INTERVALS = (900, 3600, 4 * 3600, 86400, 7 * 86400)
MAX_INTERVALS = 200
UNKNOWN = "unknown"


def _p90(values: list[float]) -> float:
    """The nearest-rank 90th percentile of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


@dataclass
class _Figures:
    contacts: int = 0
    in_house: int = 0
    outsourced: int = 0
    overflows: Counter[str] = field(default_factory=Counter)
    cost: float = 0.0
    with_target: int = 0
    within_target: int = 0
    abandoned: int = 0
    unanswered: int = 0
    waits: list[float] = field(default_factory=list)

    def add(
        self,
        kind: str,
        cost: float,
        wait: float | None,
        within: bool | None,
        abandoned: bool,
    ) -> None:
        self.contacts += 1
        self.in_house += kind == QueueKind.IN_HOUSE.value
        self.outsourced += kind == QueueKind.OUTSOURCED.value
        self.cost += cost
        if within is not None:
            self.with_target += 1
            self.within_target += within
        if abandoned:
            self.abandoned += 1
        elif wait is None:
            self.unanswered += 1
        else:
            self.waits.append(wait)

    def summary(self) -> dict[str, Any]:
        n = self.contacts or 1
        return {
            "contacts": self.contacts,
            "in_house_share": round(self.in_house / n, 4),
            "outsourced_share": round(self.outsourced / n, 4),
            "overflows": dict(sorted(self.overflows.items())),
            "cost": round(self.cost, 2),
            "service_level": round(self.within_target / self.with_target, 4)
            if self.with_target
            else None,
            "avg_wait_s": round(sum(self.waits) / len(self.waits), 1) if self.waits else None,
            "p90_wait_s": round(_p90(self.waits), 1) if self.waits else None,
            "abandoned": self.abandoned,
            "abandonment_share": round(self.abandoned / n, 4),
            "unanswered": self.unanswered,
        }


def _target(policy: CompiledPolicy, channel: Channel, label: str) -> int | None:
    """The first-response target; None for a channel the policy sets none for."""
    if channel not in policy.spec.sla.first_response_seconds:
        return None
    return policy.first_response_target(channel, label)


def _interval(start: float, end: float) -> int:
    return next((s for s in INTERVALS if (end - start) / s <= MAX_INTERVALS), INTERVALS[-1])


@dataclass
class _Side:
    """One run's figures: in total, per queue, per interval."""

    policy: CompiledPolicy
    total: _Figures = field(default_factory=_Figures)
    queues: dict[str, _Figures] = field(default_factory=dict)
    buckets: list[_Figures] = field(default_factory=list)


def _tally(
    side: _Side,
    run: Run,
    contacts: Sequence[RecordedContact],
    targets: CompiledPolicy,
    start: float,
    step: int,
) -> None:
    for i, contact in enumerate(contacts):
        queue_id = run.queue_ids[i]
        queue = side.policy.queues.get(queue_id)
        outcome = run.outcomes[i]
        arrived = contact.arrived_at.timestamp()
        wait = None
        if outcome.started_at is not None:
            wait = (
                queue.calendar.business_seconds(arrived, outcome.started_at)
                if queue is not None
                else 0.0
            )
        target = _target(targets, contact.facts.channel, run.labels[i])
        within = None if target is None else (wait is not None and wait <= target)
        args = (
            queue.kind.value if queue is not None else UNKNOWN,
            queue.spec.cost_per_contact if queue is not None else 0.0,
            wait,
            within,
            outcome.abandoned,
        )
        side.total.add(*args)
        side.queues.setdefault(queue_id, _Figures()).add(*args)
        last = len(side.buckets) - 1
        side.buckets[min(last, max(0, int((arrived - start) // step)))].add(*args)
        overflow = run.overflows[i]
        if overflow is not None:
            side.total.overflows[overflow[1]] += 1
            side.queues.setdefault(overflow[0], _Figures()).overflows[overflow[1]] += 1


def _series(buckets: list[_Figures]) -> dict[str, list[Any]]:
    return {
        "contacts": [b.contacts for b in buckets],
        "in_house": [b.in_house for b in buckets],
        "outsourced": [b.outsourced for b in buckets],
        "service_level": [
            round(b.within_target / b.with_target, 4) if b.with_target else None for b in buckets
        ],
    }


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")


def build_report(
    contacts: Sequence[RecordedContact],
    before: Run,
    after: Run,
    baseline: CompiledPolicy,
    candidate: CompiledPolicy,
    period: tuple[datetime, datetime],
    seed: int,
) -> dict[str, Any]:
    """The report of two runs over the same contacts (in arrival order)."""
    start, end = period[0].timestamp(), period[1].timestamp()
    step = _interval(start, end)
    count = max(1, math.ceil((end - start) / step))
    sides = {"before": _Side(baseline), "after": _Side(candidate)}
    for name, run in (("before", before), ("after", after)):
        side = sides[name]
        side.buckets = [_Figures() for _ in range(count)]
        _tally(side, run, contacts, candidate, start, step)
    moves: Counter[tuple[str, str, str]] = Counter(
        (b, a, why)
        for b, a, why in zip(before.queue_ids, after.queue_ids, after.whys, strict=True)
        if a != b
    )
    queue_ids = list(
        dict.fromkeys([*candidate.queues, *sides["before"].queues, *sides["after"].queues])
    )
    empty = _Figures().summary()

    def kind(queue_id: str) -> str:
        queue = candidate.queues.get(queue_id) or baseline.queues.get(queue_id)
        return queue.kind.value if queue is not None else UNKNOWN

    notes = [
        "before: each contact in its recorded queue, simulated with the baseline policy's"
        " capacities and calendars; after: the candidate decides on the simulated load",
        "handle time: the recorded time from opening to resolution (it includes any wait,"
        " so it overstates handling where queues waited); else drawn as described in"
        " handle_times",
    ]
    blind = blind_rules(candidate)
    if blind:
        notes.append(
            "subjects and custom attributes are not recorded: rules "
            + ", ".join(blind)
            + " see them only for contacts recorded as matching a baseline rule on them"
            " (given that rule's first keyword and attribute values)"
        )
    return {
        "period": {"from": _iso(start), "to": _iso(end)},
        "seed": seed,
        "contacts": len(contacts),
        "candidate": {"name": candidate.spec.name, "version": candidate.version},
        "baseline": {"name": baseline.spec.name, "version": baseline.version},
        "sla_target_share": candidate.spec.sla.target_share,
        "total": {name: side.total.summary() for name, side in sides.items()},
        "queues": [
            {
                "queue": q,
                "kind": kind(q),
                **{
                    name: side.queues[q].summary() if q in side.queues else empty
                    for name, side in sides.items()
                },
            }
            for q in queue_ids
        ],
        "moves": [
            {"from": b, "to": a, "why": why, "contacts": n}
            for (b, a, why), n in sorted(moves.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "intervals": {
            "seconds": step,
            "start": [_iso(start + i * step) for i in range(count)],
            **{name: _series(side.buckets) for name, side in sides.items()},
        },
        "handle_times": {"before": before.handle_sources, "after": after.handle_sources},
        "notes": notes,
    }


def what_if(
    contacts: Sequence[RecordedContact],
    baseline: CompiledPolicy,
    candidate: CompiledPolicy,
    period: tuple[datetime, datetime],
    seed: int,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Replay `contacts` before (recorded queues) and after (the candidate decides), and
    report; `progress(done, total)` hears how far both runs are."""
    ordered = sorted(contacts, key=lambda c: (c.arrived_at, c.contact_id))
    total = 2 * len(ordered)

    def told(offset: int) -> Callable[[int], None] | None:
        if progress is None:
            return None
        return lambda done: progress(offset + done, total)

    before = replay_recorded(ordered, baseline, period[1], seed, told(0))
    inferred = infer_unrecorded(ordered, baseline)
    after = replay_candidate(inferred, candidate, period[1], seed, told(len(ordered)))
    return build_report(ordered, before, after, baseline, candidate, period, seed)
