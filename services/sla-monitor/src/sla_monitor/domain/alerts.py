"""From a due alert to the `switchboard.sla.alert.v1` event; ids derived, so replays repeat them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sla_monitor.domain.clock import PendingAlert, QueueRef
from switchboard_calendars import instant
from switchboard_events import QueueKind, SlaAlert, SlaAlertData, derive_id
from switchboard_events.sla import MAX_WAITED, Agreement, QueueWait, WaitCause

SOURCE = "switchboard/sla-monitor"
ALERT_NAMESPACE = "sla.alert"


def alert_id(
    contact_id: str, target: str, kind: str, level: int, cycle: int = 1, team: str | None = None
) -> str:
    """One id per contact, target, kind, level, cycle and OLA team: the same alert always has
    the same id.

    The first cycle's ids leave the cycle out, as they did before cycles were numbered,
    so alerts already recorded keep their ids; SLA alerts (no team) leave the team out.
    """
    extra: tuple[str, ...] = () if team is None else (f"ola {team}",)
    extra += () if cycle == 1 else (f"cycle {cycle}",)
    return derive_id(ALERT_NAMESPACE, contact_id, target, kind, str(level), *extra)


def main_wait(waited: Sequence[tuple[QueueRef, float]]) -> tuple[QueueRef, WaitCause] | None:
    """The queue where most of the counted time went, and the cause that makes it."""
    if not waited:
        return None
    main, _ = max(waited, key=lambda w: w[1])  # the first of equals: deterministic
    if main.kind is QueueKind.OUTSOURCED:
        return main, WaitCause.VENDOR
    return main, WaitCause.TRANSFERS if len(waited) > 1 else WaitCause.QUEUE


def _waits(waited: Sequence[tuple[QueueRef, float]]) -> list[QueueWait]:
    kept = sorted(sorted(waited, key=lambda w: -w[1])[:MAX_WAITED], key=waited.index)
    return [
        QueueWait(queue_id=q.id, queue_kind=q.kind, vendor=q.vendor, business_seconds=round(s, 3))
        for q, s in kept
    ]


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(max(0.0, seconds), 3)


def build_alert(pending: PendingAlert, fired_at: datetime) -> SlaAlert:
    """The event for `pending`, fired at `fired_at`.

    `time` is when the level was reached; `data.due_at` when the target is (or was) due;
    `data.elapsed_business_seconds` the business time counted when the level was reached;
    `data.cycle` which cycle of the target (1, then 2 after a reopen or the next reply);
    `data.waited`, `cause`, `wall_seconds`, `paused_seconds` where the time went;
    `agreement` and `team` whose target it is; `held_until` when quiet hours held it.
    """
    ident = alert_id(*pending.key)
    main = main_wait(pending.waited)
    return SlaAlert(
        id=ident,
        source=SOURCE,
        subject=pending.contact_id,
        time=instant(pending.fire_at),
        producedtime=fired_at,
        data=SlaAlertData(
            alert_id=ident,
            contact_id=pending.contact_id,
            queue_id=pending.queue.id,
            queue_kind=pending.queue.kind,
            vendor=pending.queue.vendor,
            priority=pending.priority,
            priority_label=pending.priority_label,
            channel=pending.channel,
            target=pending.target,
            kind=pending.kind,
            cycle=pending.cycle,
            level=pending.level,
            due_at=instant(pending.due_at),
            fired_at=fired_at,
            target_seconds=pending.target_seconds,
            elapsed_business_seconds=round(pending.elapsed, 3),
            policy_rule=pending.rule,
            contract_id=pending.contract,
            waited=_waits(pending.waited),
            cause=None if main is None else main[1],
            wall_seconds=_rounded(pending.wall_seconds),
            paused_seconds=_rounded(pending.paused_seconds),
            agreement=Agreement.SLA if pending.team is None else Agreement.OLA,
            team=pending.team,
            held_until=None if pending.held_until is None else instant(pending.held_until),
        ),
    )
