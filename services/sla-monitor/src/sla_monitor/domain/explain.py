"""For people: a contact's clocks now, and why the policy gave it the targets it has.

`status(state, now)` is what the admin API shows for a contact; `explain(...)` adds the
rules considered for each target, the calendar and why, and every alert level with the
instant it falls due. `render(...)` turns an explanation into text for the CLI.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sla_monitor.domain.clock import Clock, ClockStatus, ContactClocks, Decision, Step, fold
from sla_monitor.domain.durations import format_duration
from sla_monitor.domain.policy import SlaPolicy
from switchboard_calendars import instant
from switchboard_events import SlaTarget


def _iso(at: float | None) -> str | None:
    return None if at is None else instant(at).isoformat()


def clock_status(clock: Clock, now: float) -> dict[str, Any]:
    """One clock: elapsed, remaining, paused, due, breached."""
    at = now if clock.ended_at is None else clock.ended_at
    elapsed = clock.elapsed(at)
    due = None
    if clock.status is ClockStatus.RUNNING:
        (due,) = clock.crossings([float(clock.target.seconds)])
    return {
        "target": clock.target.target.value,
        "cycle": clock.cycle + 1,
        "status": clock.status.value,
        "paused": clock.status is ClockStatus.PAUSED,
        "clock": clock.target.basis,
        "calendar": clock.segments[-1].calendar.id,
        "target_seconds": clock.target.seconds,
        "elapsed_seconds": round(elapsed, 3),
        "remaining_seconds": round(clock.target.seconds - elapsed, 3),
        "breached": elapsed > clock.target.seconds,
        "started_at": _iso(clock.started_at),
        "ended_at": _iso(clock.ended_at),
        "due_at": _iso(due),
        "rule": clock.target.rule,
    }


def status(state: ContactClocks, now: float) -> dict[str, Any]:
    """A contact's SLA status at `now`: every clock (all cycles), and the alerts still to come."""
    d = state.decision
    return {
        "contact_id": d.contact_id,
        "status": state.status.value,
        "paused": state.paused,
        "queue": {
            "id": state.queue.id,
            "kind": state.queue.kind.value,
            "vendor": state.queue.vendor,
        },
        "channel": d.channel.value,
        "priority_label": d.priority_label,
        "tier": d.tier,
        "arrived_at": _iso(d.arrived_at),
        "policy_version": state.policy_version,
        "clocks": [clock_status(c, now) for t in SlaTarget for c in state.clocks.get(t, [])],
        "pending_alerts": [
            {
                "target": p.target.value,
                "kind": p.kind.value,
                "level": p.level,
                "fire_at": _iso(p.fire_at),
                "due_at": _iso(p.due_at),
            }
            for p in sorted(state.pending_alerts(), key=lambda p: p.fire_at)
        ],
    }


def explain(
    policy: SlaPolicy, decision: Decision, steps: Iterable[Step], now: float
) -> dict[str, Any]:
    """Why each target is what it is, when each level falls due, and the clocks at `now`."""
    facts = decision.facts
    calendar, why = policy.calendar_for(decision.queue.id, decision.queue.kind)
    state = fold(decision, steps, policy)
    targets = []
    for target, resolved in policy.targets_for(facts).items():
        clock = state.current(target)
        crossings = clock.crossings([lv.threshold for lv in resolved.levels]) if clock else []
        targets.append(
            {
                "target": target.value,
                "rule": resolved.rule,
                "candidates": [
                    {
                        "rule": c.rule,
                        "conditions": c.conditions,
                        "specificity": c.specificity,
                        "chosen": c.chosen,
                    }
                    for c in policy.candidates(target, facts)
                ],
                "target_seconds": resolved.seconds,
                "length": format_duration(resolved.seconds),
                "clock": resolved.basis,
                "calendar": calendar.id if resolved.basis == "business" else "24x7",
                "levels": [
                    {
                        "kind": lv.kind.value,
                        "level": lv.number,
                        "when": lv.label,
                        "elapsed_seconds": lv.threshold,
                        "reached_at": _iso(at) if clock is not None and clock.cycle == 0 else None,
                    }
                    for lv, at in zip(
                        resolved.levels, crossings or [None] * len(resolved.levels), strict=True
                    )
                ],
            }
        )
    return {
        "policy": {"name": policy.name, "version": policy.version},
        "facts": {
            "channel": facts.channel.value,
            "priority_label": facts.priority_label,
            "tier": facts.tier,
        },
        "calendar": {"id": calendar.id, "why": why, "hours": calendar.describe()},
        "targets": targets,
        "now": status(state, now),
    }


def render(explanation: dict[str, Any]) -> str:
    """The explanation as text, one fact per line."""
    p, f, cal = explanation["policy"], explanation["facts"], explanation["calendar"]
    lines = [
        f"policy {p['name']} {p['version']}",
        f"contact: channel {f['channel']}, priority {f['priority_label']}, tier {f['tier'] or 'unknown'}",
        f"calendar: {cal['why']}: {cal['hours']}",
    ]
    for t in explanation["targets"]:
        lines.append(f"{t['target']}: {t['length']} of {t['clock']} time, set by rule {t['rule']}")
        for c in t["candidates"]:
            mark = "->" if c["chosen"] else "  "
            lines.append(
                f"  {mark} {c['rule']} ({c['conditions']}; {c['specificity']} condition(s))"
            )
        for lv in t["levels"]:
            when = f" at {lv['reached_at']}" if lv["reached_at"] else ""
            lines.append(f"     {lv['kind']} {lv['level']}: {lv['when']}{when}")
    now = explanation["now"]
    lines.append(f"now: contact {now['status']}{' (paused)' if now['paused'] else ''}")
    for c in now["clocks"]:
        lines.append(
            f"  {c['target']} #{c['cycle']}: {c['status']}, elapsed {format_duration(c['elapsed_seconds'])}"
            f" of {format_duration(c['target_seconds'])}"
            + (f", due {c['due_at']}" if c["due_at"] else "")
            + (" (breached)" if c["breached"] else "")
        )
    return "\n".join(lines)
