"""Builders for sla-monitor's tests: the short test policy, a compiled policy from text,
records as the runner hands them to the handler, the minute-by-minute business-time reference."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from sla_monitor.domain.compiled import SlaPolicy, load_policy
from switchboard_calendars import Calendar
from switchboard_events import Event
from switchboard_runtime.policies import policy_version
from switchboard_runtime.runner import Record


def short_policy_yaml(today: date) -> str:
    """Short calendar-time targets, plus a business-time queue closed around `today`; team
    billing (queue `billing`) has a 2 s OLA; social posts hold warnings outside hours."""
    closed = ", ".join(str(today + timedelta(days=d)) for d in (-1, 0, 1))
    week = "\n".join(
        f"      {d}: ['00:00-24:00']" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    )
    return f"""
name: test-policy
calendars:
  - id: always
    always_open: true
  - id: closed-now
    timezone: UTC
    weekly:
{week}
    holidays: [{closed}]
queues:
  - {{id: general, kind: in_house, calendar: always}}
  - {{id: closed, kind: in_house, calendar: closed-now}}
  - {{id: vendor, kind: outsourced, vendor: acme-bpo, calendar: always}}
  - {{id: billing, kind: in_house, calendar: always}}
default_calendars: {{in_house: always, outsourced: always}}
rules:
  - id: call
    match: {{channel: call}}
    first_response: {{target: 2s, clock: calendar, warnings: [{{share: 50%}}], escalations: [1s]}}
    next_response: {{target: 2s, clock: calendar, warnings: [{{before: 1s}}]}}
  - id: email
    match: {{channel: email}}
    first_response: {{target: 2s, clock: business, warnings: [{{share: 50%}}]}}
  - id: social
    match: {{channel: social}}
    first_response: {{target: 4s, clock: calendar, warnings: [{{share: 50%}}], outside_hours: hold}}
  - id: p1-resolution
    match: {{priority: P1}}
    resolution: {{target: 4s, clock: calendar, warnings: [{{share: 50%}}]}}
default:
  first_response: {{target: 1h}}
  resolution: {{target: 1d}}
teams:
  - {{id: frontline, queues: [general, closed]}}
  - {{id: billing, queues: [billing]}}
olas:
  - id: billing-pickup
    team: billing
    first_response: {{target: 2s, warnings: [{{share: 50%}}]}}
"""


def office_calendar(holiday: str) -> str:
    """A policy's `calendars:` item `office`: London, weekdays 09:00-17:00, closed on `holiday`."""
    days = "".join(f'      {d}: ["09:00-17:00"]\n' for d in ("mon", "tue", "wed", "thu", "fri"))
    return f"  - id: office\n    timezone: Europe/London\n    weekly:\n{days}    holidays: [{holiday}]\n"


def policy_of(text: str | bytes) -> SlaPolicy:
    """A policy compiled from YAML, versioned as the service versions its file."""
    content = text.encode() if isinstance(text, str) else text
    return load_policy(content, policy_version(content))


def records(events: Sequence[Event], partition: int = 0, first: int = 0) -> list[Record[Event]]:
    """The events as one batch of records of one topic partition, in order."""
    topic = "routing.decisions"
    return [
        Record(topic, partition, first + i, e.subject.encode(), 0, e) for i, e in enumerate(events)
    ]


def brute_open(cal: Calendar, at: int) -> bool:
    """Is the minute from `at` open? From the definition (as libs/calendars' reference)."""
    local = datetime.fromtimestamp(at, UTC).astimezone(cal.zone)
    day = local.date()
    second = local.hour * 3600 + local.minute * 60 + local.second
    if day in cal.overrides:
        ranges = cal.overrides[day]
    elif day in cal.holidays:
        ranges = ()
    else:
        ranges = cal.weekly[day.weekday()]
    return cal.always_open or any(s <= second < e for s, e in ranges)


def brute_opening(cal: Calendar, at: int) -> int:
    """The first open minute from the minute-aligned `at` on (`at` itself if it is open)."""
    while not brute_open(cal, at):
        at += 60
    return at
