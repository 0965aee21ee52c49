"""A contact's SLA status at an instant: per target, its clock and every alert level.

One shape, one meaning per field: a target's `due_at` is when the target itself falls
(or fell) due; an alert level's `reached_at` is when the clock reaches (or reached) that
level, the alert event's `time`; `fired_at` is when the alert was fired. Each level says
whether it fired, so nothing is listed both as to come and as fired.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from sla_monitor.domain.alerts import alert_id
from sla_monitor.domain.clock import Clock, ClockStatus, ContactClocks
from sla_monitor.domain.quiet import superseded
from switchboard_calendars import instant
from switchboard_events import AlertKind, SlaTarget


@dataclass(frozen=True, slots=True)
class FiredRecord:
    """An alert recorded as fired (from `sla.alerts`)."""

    target: str
    kind: str
    cycle: int
    level: int
    alert_id: str
    reached_at: datetime
    fired_at: datetime
    published: bool
    team: str | None = None  # an OLA's alert: the receiving team


FiredKey = tuple[str, str, int, int, str | None]
"""(target, kind, cycle, level, team) of a fired alert."""


class LevelState(StrEnum):
    FIRED = "fired"
    DUE = "due"
    SCHEDULED = "scheduled"
    NOT_REACHED = "not_reached"
    NOT_FIRED = "not_fired"
    SUPERSEDED = "superseded"
    NEVER = "never"


class AlertLevel(BaseModel):
    kind: str = Field(description="warning, breach or escalation")
    cycle: int = Field(description="the cycle of the target the alert belongs to")
    level: int = Field(description="the alert's level within its kind and cycle")
    elapsed_seconds: float | None = Field(
        description="business time counted when the level is reached (null: not in the policy)"
    )
    reached_at: datetime | None = Field(
        description="when the clock reaches (or reached) the level; null if it will not"
        " while paused or stopped"
    )
    state: LevelState = Field(
        description="fired; due (reached, the alert is about to fire or waits for the monitor"
        " to catch up); scheduled (fires at reached_at if the clock runs on); not_reached"
        " (paused, met or stopped first); not_fired (reached, but the clock stopped before"
        " the alert fired); superseded (a warning quiet hours held until its breach or later:"
        " the breach goes out instead); never (the calendar has no open time within its"
        " horizon before the level, or the target (never_due), is reached: not scheduled)"
    )
    alert_id: str
    fired_at: datetime | None = Field(description="when the alert was fired, if it was")
    published: bool | None = Field(description="acknowledged by the broker (null: not fired)")


class TargetStatus(BaseModel):
    target: str
    agreement: str = Field("sla", description="sla, or ola: a receiving team's target")
    team: str | None = Field(None, description="the receiving team of an OLA")
    cycle: int = Field(description="1 for the first clock of the target, 2 after a restart, ...")
    status: str = Field(description="running, paused, met or stopped")
    paused: bool
    clock: str = Field(description="business (the queue's calendar) or calendar (wall time)")
    calendar: str
    rule: str
    contract: str | None = Field(
        default=None, description="the customer contract whose rule set the target, if one did"
    )
    target_seconds: int
    started_at: datetime
    ended_at: datetime | None
    due_at: datetime | None = Field(
        description="when the target falls (or fell, or would have fallen) due; null while"
        " paused before it is reached, or if it never falls due"
    )
    never_due: str | None = Field(
        default=None,
        description="why the running clock never falls due (its calendar has no open time"
        " within its horizon before the target is reached): no alert of it is scheduled",
    )
    elapsed_seconds: float = Field(description="business seconds counted, pauses excluded")
    remaining_seconds: float = Field(description="target minus elapsed; negative once breached")
    paused_seconds: float = Field(description="wall seconds spent paused")
    breached: bool
    alerts: list[AlertLevel]


class QueueView(BaseModel):
    id: str
    kind: str
    vendor: str | None


class ContactSla(BaseModel):
    contact_id: str
    status: str = Field(description="open, resolved or abandoned")
    paused: bool
    queue: QueueView
    channel: str
    priority_label: str
    tier: str | None
    arrived_at: datetime
    policy_version: str
    evaluated_at: datetime = Field(description="the instant the clocks are shown at")
    targets: list[TargetStatus] = Field(
        description="every clock of every target, all cycles, then the OLAs' clocks"
    )
    other_alerts: list[AlertLevel] = Field(
        description="alerts fired that no current level accounts for (after a policy change)"
    )


def _at(at: float | None) -> datetime | None:
    return None if at is None else instant(at)


def _paused_seconds(clock: Clock, now: float) -> float:
    gaps = sum(
        nxt.start - prev.end
        for prev, nxt in zip(clock.segments, clock.segments[1:], strict=False)
        if prev.end is not None
    )
    last = clock.segments[-1]
    if clock.status is ClockStatus.PAUSED and last.end is not None:
        gaps += max(0.0, now - last.end)
    return round(gaps, 3)


def _due_at(clock: Clock) -> float | None:
    (due,) = clock.crossings([float(clock.target.seconds)])
    if due is None and clock.ended_at is not None:
        due = clock.projected_due(clock.elapsed(clock.ended_at))
    return due


def _fired_level(record: FiredRecord) -> AlertLevel:
    return AlertLevel(
        kind=record.kind,
        cycle=record.cycle,
        level=record.level,
        elapsed_seconds=None,
        reached_at=record.reached_at,
        state=LevelState.FIRED,
        alert_id=record.alert_id,
        fired_at=record.fired_at,
        published=record.published,
    )


def target_status(
    state: ContactClocks,
    clock: Clock,
    now: float,
    fired: dict[FiredKey, FiredRecord],
) -> TargetStatus:
    """One clock at `now`, with its levels; the fired ones it accounts for leave `fired`."""
    at = now if clock.ended_at is None else clock.ended_at
    elapsed = clock.elapsed(at)
    target = clock.target.target.value
    levels = clock.target.levels
    alerts = []
    crossings = clock.crossings([lv.threshold for lv in levels])
    breach = next(
        (r for lv, r in zip(levels, crossings, strict=True) if lv.kind is AlertKind.BREACH), None
    )
    never = clock.never_due()
    for level, reached in zip(levels, crossings, strict=True):
        key = (target, level.kind.value, clock.cycle, level.number, clock.team)
        record = fired.pop(key, None)
        if record is not None:
            state_now = LevelState.FIRED
        elif clock.active and (
            never is not None
            or (reached is None and clock.status is ClockStatus.RUNNING)
            or (reached is not None and state.due_of(clock, level, breach) is None)
        ):  # out of its calendar's reach: pending_alerts schedules none of these
            state_now = LevelState.NEVER
        elif reached is None:
            state_now = LevelState.NOT_REACHED
        elif superseded(level.kind, state.send_at(clock, level, reached), breach):
            state_now = LevelState.SUPERSEDED
        elif not clock.active:
            state_now = LevelState.NOT_FIRED
        else:
            state_now = LevelState.DUE if reached <= now else LevelState.SCHEDULED
        alerts.append(
            AlertLevel(
                kind=level.kind.value,
                cycle=clock.cycle,
                level=level.number,
                elapsed_seconds=level.threshold,
                reached_at=_at(reached),
                state=state_now,
                alert_id=alert_id(
                    state.decision.contact_id,
                    target,
                    level.kind.value,
                    level.number,
                    clock.cycle,
                    clock.team,
                ),
                fired_at=None if record is None else record.fired_at,
                published=None if record is None else record.published,
            )
        )
    started = instant(clock.started_at)
    return TargetStatus(
        target=target,
        agreement="sla" if clock.team is None else "ola",
        team=clock.team,
        cycle=clock.cycle,
        status=clock.status.value,
        paused=clock.status is ClockStatus.PAUSED,
        clock=clock.target.basis,
        calendar=clock.segments[-1].calendar.id,
        rule=clock.target.rule,
        contract=clock.target.contract,
        target_seconds=clock.target.seconds,
        started_at=started,
        ended_at=_at(clock.ended_at),
        due_at=_at(_due_at(clock)),
        never_due=never,
        elapsed_seconds=round(elapsed, 3),
        remaining_seconds=round(clock.target.seconds - elapsed, 3),
        paused_seconds=_paused_seconds(clock, at),
        breached=elapsed > clock.target.seconds,
        alerts=alerts,
    )


def status(state: ContactClocks, now: float, fired: Iterable[FiredRecord] = ()) -> ContactSla:
    """A contact's SLA status at `now`, given the alerts fired so far."""
    remaining = {(r.target, r.kind, r.cycle, r.level, r.team): r for r in fired}
    clocks = [clock for t in SlaTarget for clock in state.clocks.get(t, [])]
    targets = [target_status(state, clock, now, remaining) for clock in [*clocks, *state.olas]]
    d = state.decision
    return ContactSla(
        contact_id=d.contact_id,
        status=state.status.value,
        paused=state.paused,
        queue=QueueView(id=state.queue.id, kind=state.queue.kind.value, vendor=state.queue.vendor),
        channel=d.channel.value,
        priority_label=d.priority_label,
        tier=d.tier,
        arrived_at=instant(d.arrived_at),
        policy_version=state.policy_version,
        evaluated_at=instant(now),
        targets=targets,
        other_alerts=[_fired_level(r) for r in remaining.values()],
    )
