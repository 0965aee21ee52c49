"""From a due alert to the `switchboard.sla.alert.v1` event; ids derived, so replays repeat them."""

from __future__ import annotations

from datetime import datetime

from sla_monitor.domain.clock import PendingAlert
from switchboard_calendars import instant
from switchboard_events import SlaAlert, SlaAlertData, derive_id

SOURCE = "switchboard/sla-monitor"
ALERT_NAMESPACE = "sla.alert"


def alert_id(contact_id: str, target: str, kind: str, level: int, cycle: int = 1) -> str:
    """One id per contact, target, kind, level and cycle: the same alert always has the same id.

    The first cycle's ids leave the cycle out, as they did before cycles were numbered,
    so alerts already recorded keep their ids.
    """
    extra = () if cycle == 1 else (f"cycle {cycle}",)
    return derive_id(ALERT_NAMESPACE, contact_id, target, kind, str(level), *extra)


def build_alert(pending: PendingAlert, fired_at: datetime) -> SlaAlert:
    """The event for `pending`, fired at `fired_at`.

    `time` is when the level was reached; `data.due_at` when the target is (or was) due;
    `data.elapsed_business_seconds` the business time counted when the level was reached;
    `data.cycle` which cycle of the target (1, then 2 after a reopen or the next reply).
    """
    ident = alert_id(*pending.key)
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
        ),
    )
