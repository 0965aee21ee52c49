"""For people: a decision explained step by step, and the queues' live state.

`explain(...)` gives the decision the policy makes for a contact at a snapshot, with
every step taken; `queues(...)` each queue's calendar, load, occupancy and wait;
`text_report(...)` turns an explanation into text for the CLI. Shared by the CLI and
the admin API.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from router.domain.engine import CompiledPolicy, Snapshot
from router.domain.outcome import decision_event
from router.domain.rules import Facts
from switchboard_events import ContactEnriched


def _finite(value: float) -> float | None:
    return None if math.isinf(value) else round(value, 1)


def explain(
    policy: CompiledPolicy, event: ContactEnriched, snap: Snapshot, pseudonym_key: bytes
) -> dict[str, Any]:
    """The decision the policy makes for `event` at `snap`, with every step taken."""
    decision = policy.decide(Facts.of(event), snap, explain=True)
    out = decision_event(event, decision, policy.version, snap.now, pseudonym_key)
    return {
        "policy_version": policy.version,
        "at": snap.now.isoformat(),
        "steps": list(decision.steps),
        "decision": out.data.model_dump(mode="json", exclude_none=True),
    }


def queues(policy: CompiledPolicy, snap: Snapshot) -> list[dict[str, Any]]:
    """Each queue: kind, open now, live load, occupancy and estimated wait per channel."""
    rows = []
    for queue in policy.queues.values():
        spec = queue.spec
        rows.append(
            {
                "id": queue.id,
                "kind": queue.kind.value,
                "vendor": spec.vendor,
                "open_now": snap.is_open(queue.id),
                "calendar": queue.calendar.explain(snap.now),
                "agents": spec.capacity.agents,
                "open_contacts": snap.open_contacts(queue.id),
                "occupancy_percent": _finite(snap.occupancy(queue) * 100),
                "estimated_wait_seconds": {
                    c.value: _finite(snap.wait(queue, c)) for c in spec.channels
                },
                "data_visibility": queue.visibility,
            }
        )
    return rows


def text_report(result: dict[str, Any]) -> str:
    """An explanation for a terminal."""
    d = result["decision"]
    lines = [f"policy {result['policy_version']} at {result['at']}", ""]
    lines += [f"  {i}. {step}" for i, step in enumerate(result["steps"], 1)]
    lines += [
        "",
        f"queue {d['queue_id']} ({d['queue_kind']}{', ' + d['vendor'] if 'vendor' in d else ''})"
        f", priority {d['priority']} {d['priority_label']}, rule {d['rule']}",
    ]
    if "overflow" in d:
        lines.append(f"overflowed from {d['overflow']['from_queue']}: {d['overflow']['reason']}")
    return "\n".join(lines)


def at_or_now(at: datetime | None, now: datetime) -> datetime:
    if at is None:
        return now
    if at.tzinfo is None:
        raise ValueError(
            f"time {at.isoformat()} has no UTC offset; expected e.g. 2025-03-03T10:00:00Z"
        )
    return at
