"""For people: why the policy gave a contact the targets it has, and its clocks now.

`explain(...)` gives the rules considered for each target (the customer contract's first,
and whether the policy defines the contract the decision names), the calendar and why, every
alert level with the instant it falls due, and the contact's status at `now` (the
shape of `GET /sla/contacts/{id}`, `domain/status.py`, with no alert fired: nothing is
looked up). `render(...)` turns an explanation into text for the CLI.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sla_monitor.domain.clock import Clock, Decision, Step, fold
from sla_monitor.domain.compiled import SlaPolicy
from sla_monitor.domain.durations import format_duration
from sla_monitor.domain.status import status
from switchboard_calendars import instant


def _iso(at: float | None) -> str | None:
    return None if at is None else instant(at).isoformat()


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
                "contract": resolved.contract,
                "candidates": [
                    {
                        "contract": c.contract,
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
                        "reached_at": _iso(at) if clock is not None and clock.cycle == 1 else None,
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
            "contract": facts.contract,
            "contract_defined": policy.contract_for(facts) is not None,
        },
        "calendar": {"id": calendar.id, "why": why, "hours": calendar.describe()},
        "targets": targets,
        "olas": [_ola(clock) for clock in state.olas],
        "now": status(state, now).model_dump(mode="json"),
    }


def _rule(contract: str | None, rule: str) -> str:
    return rule if contract is None else f"{rule} of contract {contract}"


def _levels(levels: Iterable[dict[str, Any]]) -> list[str]:
    """A clock's warning and breach levels, one line each, with when one was reached."""
    return [
        f"     {lv['kind']} {lv['level']}: {lv['when']}"
        + (f" at {lv['reached_at']}" if lv["reached_at"] else "")
        for lv in levels
    ]


def _ola(clock: Clock) -> dict[str, Any]:
    """An OLA clock a handover started: whose, by which rule and hours, and its levels."""
    levels = clock.target.levels
    return {
        "team": clock.team,
        "cycle": clock.cycle,
        "rule": clock.target.rule,
        "queue": clock.segments[0].queue.id,
        "started_at": _iso(clock.started_at),
        "length": format_duration(clock.target.seconds),
        "clock": clock.target.basis,
        "calendar": clock.segments[0].calendar.id,
        "levels": [
            {"kind": lv.kind.value, "level": lv.number, "when": lv.label, "reached_at": _iso(at)}
            for lv, at in zip(levels, clock.crossings([lv.threshold for lv in levels]), strict=True)
        ],
    }


def render(explanation: dict[str, Any]) -> str:
    """The explanation as text, one fact per line."""
    p, f, cal = explanation["policy"], explanation["facts"], explanation["calendar"]
    lines = [
        f"policy {p['name']} {p['version']}",
        f"contact: channel {f['channel']}, priority {f['priority_label']}, tier {f['tier'] or 'unknown'}",
        f"calendar: {cal['why']}: {cal['hours']}",
    ]
    if f["contract"] is not None:
        lines.append(
            f"contract: {f['contract']}"
            + ("" if f["contract_defined"] else ": not in this policy, the tier's targets apply")
        )
    for t in explanation["targets"]:
        lines.append(
            f"{t['target']}: {t['length']} of {t['clock']} time, set by rule {_rule(t['contract'], t['rule'])}"
        )
        for c in t["candidates"]:
            mark = "->" if c["chosen"] else "  "
            lines.append(
                f"  {mark} {_rule(c['contract'], c['rule'])}"
                f" ({c['conditions']}; {c['specificity']} condition(s))"
            )
        lines.extend(_levels(t["levels"]))
    for o in explanation["olas"]:
        lines.append(
            f"ola of {o['team']} #{o['cycle']} (handed to {o['queue']} at {o['started_at']}):"
            f" {o['length']} of {o['clock']} time by {o['calendar']}, set by {o['rule']}"
        )
        lines.extend(_levels(o["levels"]))
    now = explanation["now"]
    lines.append(f"now: contact {now['status']}{' (paused)' if now['paused'] else ''}")
    for c in now["targets"]:
        whose = f"ola of {c['team']} " if c["team"] else ""
        lines.append(
            f"  {whose}{c['target']} #{c['cycle']}: {c['status']}, elapsed {format_duration(c['elapsed_seconds'])}"
            f" of {format_duration(c['target_seconds'])}"
            + (f", due {c['due_at']}" if c["due_at"] else "")
            + (" (breached)" if c["breached"] else "")
            + (f"; {c['never_due']}" if c["never_due"] else "")
        )
    return "\n".join(lines)
