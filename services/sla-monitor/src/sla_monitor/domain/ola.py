"""OLAs: a receiving team's targets, from a handover to its response or hand-back.

A team (`teams:` in the policy) owns some queues and may work by its own calendar.
A **handover** is a `transferred` step to a queue of another team, or an `assigned`
step naming a queue of another team. It starts that team's OLA clock, if an OLA
(`olas:`) of the team matches the contact (most conditions wins, the earlier on a tie):
its `first_response` target, counted in the team's hours (its calendar, else the
receiving queue's), with warnings, breach and escalations as an SLA target has.

The clock is met when the team responds (`first_response` or `agent_replied`), hands
the contact back or on (a handover out of the team), or resolves it; it pauses while
waiting on the customer, and stops when the contact is abandoned. Every handover to a
team is a new cycle of that team's OLA. The routing decision itself is no handover: the
first team is held to the SLA.
"""

from __future__ import annotations

from collections.abc import Sequence

from sla_monitor.domain.clock import (
    TWENTY_FOUR_SEVEN,
    Clock,
    ClockStatus,
    Decision,
    QueueRef,
    Step,
)
from sla_monitor.domain.compiled import ResolvedTarget, SlaPolicy, matches, resolve_target
from switchboard_calendars import Calendar
from switchboard_events import LifecycleKind, QueueKind, SlaTarget

_RESPONDED = (LifecycleKind.FIRST_RESPONSE, LifecycleKind.AGENT_REPLIED)
_HANDOVERS = (LifecycleKind.TRANSFERRED, LifecycleKind.ASSIGNED)
_RESUMES = (LifecycleKind.CUSTOMER_REPLIED, LifecycleKind.RESUMED)


def ola_target(policy: SlaPolicy, team: str, decision: Decision) -> ResolvedTarget | None:
    """The OLA a handover to `team` starts for this contact: the most specific that matches."""
    best = None
    for ola in policy.spec.olas:
        if team not in ola.team or not matches(ola.match, decision.facts):
            continue
        if best is None or ola.match.specificity > best.match.specificity:
            best = ola
    return (
        None
        if best is None
        else resolve_target(SlaTarget.FIRST_RESPONSE, best.first_response, best.id)
    )


def receiving_queue(policy: SlaPolicy, queue_id: str) -> QueueRef:
    """The queue a handover goes to, as alerts name it (an unlisted one counts as in-house)."""
    known = policy.queues.get(queue_id)
    if known is None:
        return QueueRef(queue_id, QueueKind.IN_HOUSE, None)
    return QueueRef(known.id, known.kind, known.vendor)


def team_hours(policy: SlaPolicy, team: str, queue: QueueRef) -> Calendar:
    """The hours a team's OLA counts by: its own calendar, else the receiving queue's."""
    calendar = policy.teams[team].calendar
    return policy.calendars[calendar] if calendar else policy.calendar_for(queue.id, queue.kind)[0]


def fold_olas(decision: Decision, steps: Sequence[Step], policy: SlaPolicy) -> list[Clock]:
    """Every OLA clock of a contact, in handover order, after the steps known so far."""
    if not policy.spec.olas:
        return []
    clocks: list[Clock] = []
    team = policy.team_of.get(decision.queue.id)
    closed: LifecycleKind | None = None  # resolved or abandoned: nothing counts (until a reopen)
    paused = False
    for step in sorted(steps, key=lambda s: (s.at, s.seq)):
        at = max(step.at, decision.arrived_at)
        kind = step.kind
        current = clocks[-1] if clocks and clocks[-1].active else None
        if closed is not None:
            if closed is LifecycleKind.RESOLVED and kind is LifecycleKind.REOPENED:
                closed, paused = None, False
        elif kind in _RESPONDED and current is not None:
            current.finish(at, ClockStatus.MET)
        elif kind is LifecycleKind.WAITING_ON_CUSTOMER:
            paused = True
            if current is not None:
                current.pause(at)
        elif kind in _RESUMES:
            paused = False
            if current is not None:
                last = current.segments[-1]
                current.resume(at, last.calendar, last.queue)
        elif kind in (LifecycleKind.RESOLVED, LifecycleKind.ABANDONED):
            if current is not None:
                met = kind is LifecycleKind.RESOLVED
                current.finish(at, ClockStatus.MET if met else ClockStatus.STOPPED)
            closed = kind
        elif kind in _HANDOVERS and step.to_queue_id is not None:
            receiving = policy.team_of.get(step.to_queue_id)
            if receiving == team:
                continue  # within the team (or between queues of no team): no handover
            if current is not None:
                current.finish(at, ClockStatus.MET)  # handed back or on in time
            team = receiving
            if team is None:
                continue
            target = ola_target(policy, team, decision)
            if target is None:
                continue
            queue = receiving_queue(policy, step.to_queue_id)
            hours = team_hours(policy, team, queue)
            cycle = 1 + sum(1 for c in clocks if c.team == team)
            calendar = hours if target.basis == "business" else TWENTY_FOUR_SEVEN
            clock = Clock.start(target, cycle, at, calendar, queue)
            clock.team, clock.hours = team, hours
            if paused:  # handed over while waiting on the customer: counts once they reply
                clock.pause(at)
            clocks.append(clock)
    return clocks
