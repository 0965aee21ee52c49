"""The history summary attached to a contact, and how lifecycle events change a contact.

History is always "before this contact": counts of the customer's recorded contacts
in the 24 h / 7 d / 30 d before the contact's own time (`occurred_at`), how many of
the recorded ones are still open, the last one before it, the satisfaction scores,
and the repeat-contact flag: an earlier contact within the repeat window (of the same
contact type, by default) means the earlier one was not resolved at first contact.

The database answers for everything recorded before the batch (`Prior`); contacts of
the same customer earlier in the same batch are added here (`summarise`), so a burst
of contacts in one batch counts exactly as the same contacts one by one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import NamedTuple

from switchboard_events import Channel, HistorySummary, LifecycleKind, Outcome

OPEN = "open"
RESOLVED = "resolved"
ABANDONED = "abandoned"

DAY = timedelta(days=1)
WEEK = timedelta(days=7)
MONTH = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class HistoryRules:
    repeat_window: timedelta = timedelta(hours=72)
    repeat_same_type: bool = True
    lookback: timedelta = timedelta(days=365)


@dataclass(frozen=True, slots=True)
class Prior:
    """What the recorded history says about a customer before one moment."""

    contacts_24h: int = 0
    contacts_7d: int = 0
    contacts_30d: int = 0
    open_contacts: int = 0
    csat_sum: int = 0
    csat_count: int = 0
    repeat: bool = False
    last_at: datetime | None = None
    last_channel: str | None = None
    last_status: str | None = None
    last_csat: int | None = None
    last_csat_at: datetime | None = None


class Recorded(NamedTuple):
    """A contact of the batch, as the next contacts of its customer see it (a tuple: one
    is built per known contact, and a frozen dataclass costs a microsecond each)."""

    occurred_at: datetime
    channel: str
    contact_type: str
    status: str = OPEN
    csat: int | None = None
    csat_at: datetime | None = None


def summarise(
    at: datetime, contact_type: str, prior: Prior, earlier: Iterable[Recorded], rules: HistoryRules
) -> HistorySummary:
    """The summary for a contact at `at`: the recorded `prior` plus `earlier` batch contacts."""
    s = prior
    for c in earlier:
        if c.occurred_at >= at or c.occurred_at < at - rules.lookback:
            continue
        age = at - c.occurred_at
        newer = s.last_at is None or c.occurred_at >= s.last_at
        newer_csat = c.csat is not None and (
            s.last_csat_at is None or (c.csat_at is not None and c.csat_at >= s.last_csat_at)
        )
        s = replace(
            s,
            contacts_24h=s.contacts_24h + (age <= DAY),
            contacts_7d=s.contacts_7d + (age <= WEEK),
            contacts_30d=s.contacts_30d + (age <= MONTH),
            open_contacts=s.open_contacts + (c.status == OPEN),
            csat_sum=s.csat_sum + (c.csat or 0),
            csat_count=s.csat_count + (c.csat is not None),
            repeat=s.repeat or is_repeat(age, c.contact_type, contact_type, rules),
            last_at=c.occurred_at if newer else s.last_at,
            last_channel=c.channel if newer else s.last_channel,
            last_status=c.status if newer else s.last_status,
            last_csat=c.csat if newer_csat else s.last_csat,
            last_csat_at=c.csat_at if newer_csat else s.last_csat_at,
        )
    return HistorySummary(
        contacts_24h=s.contacts_24h,
        contacts_7d=s.contacts_7d,
        contacts_30d=s.contacts_30d,
        open_contacts=s.open_contacts,
        last_contact_at=s.last_at,
        last_channel=Channel(s.last_channel) if s.last_channel else None,
        last_outcome=outcome(s.last_status),
        repeat_contact=s.repeat,
        last_csat=s.last_csat,
        avg_csat=round(s.csat_sum / s.csat_count, 2) if s.csat_count else None,
    )


def is_repeat(age: timedelta, earlier_type: str, contact_type: str, rules: HistoryRules) -> bool:
    """Whether a contact `age` after an earlier one of `earlier_type` is a repeat."""
    same = not rules.repeat_same_type or earlier_type == contact_type
    return timedelta(0) < age <= rules.repeat_window and same


def outcome(status: str | None) -> Outcome | None:
    if status == RESOLVED:
        return Outcome.RESOLVED
    if status == ABANDONED:
        return Outcome.ABANDONED
    return None


@dataclass(frozen=True, slots=True)
class LifecycleChange:
    """The net effect of some lifecycle events on one contact; the newest event wins.

    Status changes (resolved, abandoned, reopened) and satisfaction scores are kept
    separately, each with the time of the event that set it, so events applied in any
    order (or twice) leave the same state behind.
    """

    contact_id: str
    status: str | None = None
    status_at: datetime | None = None
    csat: int | None = None
    csat_at: datetime | None = None

    @property
    def closed_at(self) -> datetime | None:
        return self.status_at if self.status in (RESOLVED, ABANDONED) else None


_STATUS_OF = {
    LifecycleKind.RESOLVED: RESOLVED,
    LifecycleKind.ABANDONED: ABANDONED,
    LifecycleKind.REOPENED: OPEN,
}


@dataclass(frozen=True, slots=True)
class LifecycleStep:
    contact_id: str
    kind: LifecycleKind
    at: datetime
    csat: int | None = None


def fold(steps: Sequence[LifecycleStep]) -> list[LifecycleChange]:
    """One change per contact from its steps; steps that change nothing are left out."""
    changes: dict[str, LifecycleChange] = {}
    for step in steps:
        change = changes.get(step.contact_id, LifecycleChange(step.contact_id))
        status = _STATUS_OF.get(step.kind)
        if status is not None and (change.status_at is None or step.at >= change.status_at):
            change = replace(change, status=status, status_at=step.at)
        if step.csat is not None and (change.csat_at is None or step.at >= change.csat_at):
            change = replace(change, csat=step.csat, csat_at=step.at)
        if change.status is not None or change.csat is not None:
            changes[step.contact_id] = change
    return list(changes.values())
