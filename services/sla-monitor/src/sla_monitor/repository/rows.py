"""The rows the repositories store and return, and their mapping to the domain's types."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sla_monitor.domain.clock import Decision, PendingAlert, QueueRef, Step
from switchboard_calendars import instant
from switchboard_events import AlertKind, Channel, LifecycleKind, QueueKind, SlaTarget


@dataclass(frozen=True, slots=True)
class DecisionRow:
    """A routing decision as stored: the domain's `Decision` plus when and which."""

    decision: Decision
    decision_id: str
    decided_at: datetime


@dataclass(frozen=True, slots=True)
class StepRow:
    event_id: str
    contact_id: str
    kind: str
    at: datetime
    to_queue_id: str | None


@dataclass(frozen=True, slots=True)
class FiredAlert:
    """An alert to record in the outbox: its key, id, payload and times."""

    pending: PendingAlert
    alert_id: str
    fired_at: datetime
    payload: bytes


def decision_from(row: Any) -> Decision:
    return Decision(
        contact_id=row.contact_id,
        queue=QueueRef(row.queue_id, QueueKind(row.queue_kind), row.vendor),
        priority=row.priority,
        priority_label=row.priority_label,
        channel=Channel(row.channel),
        tier=row.tier,
        arrived_at=row.arrived_at.timestamp(),
        contract_id=row.contract_id,
    )


def steps_by_contact(rows: Iterable[Any]) -> dict[str, list[Step]]:
    found: dict[str, list[Step]] = {}
    for row in sorted(rows, key=lambda r: r.seq):
        step = Step(LifecycleKind(row.kind), row.at.timestamp(), row.seq, row.to_queue_id)
        found.setdefault(row.contact_id, []).append(step)
    return found


def pending_json(p: PendingAlert) -> dict[str, Any]:
    return {
        "fire_at": p.fire_at,
        "due_at": p.due_at,
        "queue_id": p.queue.id,
        "queue_kind": p.queue.kind.value,
        "vendor": p.queue.vendor,
        "priority": p.priority,
        "priority_label": p.priority_label,
        "channel": p.channel.value,
        "target_seconds": p.target_seconds,
        "elapsed": p.elapsed,
        "rule": p.rule,
        "waited": [[q.id, q.kind.value, q.vendor, seconds] for q, seconds in p.waited],
        "wall_seconds": p.wall_seconds,
        "paused_seconds": p.paused_seconds,
        "contract": p.contract,
        "held_until": p.held_until,
    }


def pending_from(row: Any) -> PendingAlert:
    a = json.loads(row.alert) if isinstance(row.alert, str) else row.alert
    return PendingAlert(
        contact_id=row.contact_id,
        target=SlaTarget(row.target),
        kind=AlertKind(row.kind),
        cycle=row.cycle,
        level=row.level,
        fire_at=a["fire_at"],
        due_at=a["due_at"],
        queue=QueueRef(a["queue_id"], QueueKind(a["queue_kind"]), a["vendor"]),
        priority=a["priority"],
        priority_label=a["priority_label"],
        channel=Channel(a["channel"]),
        target_seconds=a["target_seconds"],
        elapsed=a["elapsed"],
        rule=a["rule"],
        # Timers written before waits were recorded have none: their alerts say nothing.
        waited=tuple(
            (QueueRef(qid, QueueKind(kind), vendor), seconds)
            for qid, kind, vendor, seconds in a.get("waited", [])
        ),
        wall_seconds=a.get("wall_seconds"),
        paused_seconds=a.get("paused_seconds"),
        contract=a.get("contract"),
        team=row.team or None,
        held_until=a.get("held_until"),
    )


def maybe_instant(at: float | None) -> datetime | None:
    return None if at is None else instant(at)
