"""The routing policy file: its YAML shape, validation, and errors that name the YAML path.

`load_policy(text)` parses YAML (safe_load), validates the structure with pydantic and
then every cross-reference (queue, calendar and band names), collecting all problems
before it raises one `PolicyInvalid` whose lines read
``rules[3].action.queue: unknown queue 'billing-x'; expected one of: ...``.
The version of a policy is the hash of its bytes, so the same file always has the
same version and any edit gives a new one.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from datetime import date
from itertools import pairwise
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from switchboard_events import Channel, QueueKind

Name = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")
]
Slug = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1)]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Visibility = Literal["full", "minimised"]
AttributeScalar = str | bool | int | float

_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]|24):([0-5]\d)$")


def _check_hours(value: str) -> str:
    found = _HOURS.match(value.replace(" ", ""))
    if found is None:
        raise ValueError(f"expected hours like '08:30-12:00' (24-hour clock), got {value!r}")
    start, end = hours_to_minutes(found.group(0))
    if end > 24 * 60 or end <= start:
        raise ValueError(
            f"hours {value!r} must end after they start, on the same day (at most 24:00);"
            " split a night shift over two days"
        )
    return found.group(0)


Hours = Annotated[str, AfterValidator(_check_hours)]


def hours_to_minutes(hours: str) -> tuple[int, int]:
    """'08:30-12:00' -> (510, 720): minutes after local midnight, end exclusive."""
    start, end = hours.split("-")
    return _minutes(start), _minutes(end)


def _minutes(clock: str) -> int:
    hour, minute = clock.split(":")
    return int(hour) * 60 + int(minute)


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DateOverride(_Spec):
    """One date with its own hours (an empty list: closed all day)."""

    date: date
    hours: list[Hours] = Field(default_factory=list)
    note: str | None = None


class CalendarSpec(_Spec):
    """When a team works: weekly hours (split shifts allowed), holidays, date overrides, or 24x7."""

    id: Name
    timezone: str = "UTC"
    always_open: bool = False
    weekly: dict[Weekday, list[Hours]] = Field(default_factory=dict)
    holidays: list[date] = Field(default_factory=list)
    overrides: list[DateOverride] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; expected an IANA name like 'Europe/London'"
            ) from None
        return value


class Capacity(_Spec):
    """Agents on shift and how many contacts of each channel one agent handles at once."""

    agents: int = Field(ge=0, le=100_000)
    concurrency: dict[Channel, int] = Field(description="contacts per agent per channel")

    @field_validator("concurrency")
    @classmethod
    def _positive(cls, value: dict[Channel, int]) -> dict[Channel, int]:
        bad = [f"{channel.value}: {n}" for channel, n in value.items() if not 1 <= n <= 100]
        if bad:
            raise ValueError(f"concurrency must be 1..100 contacts per agent, got {', '.join(bad)}")
        return value


class QueueSpec(_Spec):
    """A queue: who staffs it, what it serves, when, with what capacity and data visibility."""

    id: Name
    kind: QueueKind
    vendor: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    description: str | None = None
    channels: list[Channel] = Field(min_length=1)
    contact_types: list[Slug] = Field(default_factory=list, description="empty: every type")
    languages: list[Slug] = Field(default_factory=list, description="empty: every language")
    calendar: Name
    capacity: Capacity
    cost_per_contact: float = Field(0.0, ge=0)
    data_visibility: Visibility | None = Field(
        None, description="default: full for in-house queues, minimised for outsourced ones"
    )

    @property
    def visibility(self) -> Visibility:
        if self.data_visibility is not None:
            return self.data_visibility
        return "full" if self.kind == QueueKind.IN_HOUSE else "minimised"


class PriorityRange(_Spec):
    min: int | None = None
    max: int | None = None


class Match(_Spec):
    """Conditions of a rule: all given fields must hold; a list means any of its values."""

    channel: list[Channel] | None = None
    contact_type: list[Slug] | None = None
    priority: PriorityRange | None = None
    priority_label: list[str] | None = None
    tier: list[Slug] | None = None
    language: list[Slug] | None = None
    region: list[str] | None = None
    customer_status: list[Literal["known", "unknown", "ambiguous"]] | None = None
    repeat_contact: bool | None = None
    queue_open: dict[str, bool] | None = None
    subject_keywords: list[Annotated[str, StringConstraints(min_length=1)]] | None = None
    attributes: dict[str, AttributeScalar | list[AttributeScalar]] | None = None


class Action(_Spec):
    """Where a matching contact goes: a queue, then its fallbacks in order."""

    queue: Name
    fallback: list[Name] = Field(default_factory=list)
    priority_adjust: int = Field(0, ge=-10_000, le=10_000)
    reason: str | None = Field(None, max_length=200)


class RuleSpec(_Spec):
    id: Name
    description: str | None = None
    match: Match = Field(default_factory=Match)
    action: Action


class PriorityBand(_Spec):
    label: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    min: int = Field(ge=0)


class PrioritySpec(_Spec):
    """score = base + channel + contact type + tier + repeat contact + hint + rule adjustment."""

    base: int = 0
    channel: dict[Channel, int] = Field(default_factory=dict)
    contact_type: dict[Slug, int] = Field(default_factory=dict)
    tier: dict[Slug, int] = Field(default_factory=dict)
    repeat_contact: int = 0
    hint: dict[Annotated[int, Field(ge=1, le=5)], int] = Field(default_factory=dict)
    bands: list[PriorityBand] = Field(min_length=1)


class SlaSpec(_Spec):
    """First-response targets (seconds), per channel, optionally per priority label."""

    first_response_seconds: dict[Channel, Annotated[int, Field(gt=0)]]
    by_priority_label: dict[str, dict[Channel, Annotated[int, Field(gt=0)]]] = Field(
        default_factory=dict
    )


class NeverOutsource(_Spec):
    """Contacts that must stay in-house, and the in-house queue they fall back to."""

    tiers: list[Slug] = Field(default_factory=list)
    contact_types: list[Slug] = Field(default_factory=list)
    in_house_fallback: Name


class OverflowSpec(_Spec):
    """When an in-house queue cannot take a contact in time, send it to an outsourced queue."""

    queues: list[Name] = Field(min_length=1, description="outsourced targets, first fit wins")
    on_closed: bool = True
    max_wait_share: float | None = Field(
        0.8, gt=0, le=10, description="overflow when wait > share x first-response target"
    )
    max_occupancy: float | None = Field(0.9, gt=0, le=2)


class PolicySpec(_Spec):
    """The whole routing policy file."""

    name: str | None = None
    calendars: list[CalendarSpec] = Field(min_length=1)
    queues: list[QueueSpec] = Field(min_length=1)
    handle_time_seconds: dict[Channel, Annotated[float, Field(gt=0)]]
    sla: SlaSpec
    priority: PrioritySpec
    overflow: OverflowSpec | None = None
    never_outsource: NeverOutsource | None = None
    rules: list[RuleSpec] = Field(default_factory=list)
    default: Action


class PolicyInvalid(ValueError):
    """The policy file is wrong; `problems` are 'path: what is wrong' lines."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"invalid routing policy ({len(self.problems)} problem(s)):\n{lines}")


def policy_version(content: bytes) -> str:
    """The version of a policy file: a hash of its exact bytes."""
    return "sha256:" + hashlib.sha256(content).hexdigest()[:16]


def load_policy(content: bytes | str) -> PolicySpec:
    """Parse and validate a policy; raise `PolicyInvalid` listing every problem with its path."""
    try:
        raw = yaml.safe_load(content)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(document)"
        problem = getattr(exc, "problem", None) or str(exc)
        raise PolicyInvalid([f"{where}: not valid YAML: {problem}"]) from None
    if not isinstance(raw, dict):
        raise PolicyInvalid([f"(document): expected a mapping at the top, got {_kind(raw)}"])
    try:
        spec = PolicySpec.model_validate(raw)
    except ValidationError as exc:
        raise PolicyInvalid([_describe(err) for err in exc.errors(include_url=False)]) from None
    problems = list(_references(spec))
    if problems:
        raise PolicyInvalid(problems)
    return spec


def _kind(value: object) -> str:
    return "nothing" if value is None else type(value).__name__


def _path(loc: Iterable[int | str]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path.lstrip(".") or "(document)"


def _describe(err: Any) -> str:
    loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"{_path(loc)}: unknown field (check the spelling; see the policy reference)"
    if kind == "missing":
        return f"{_path(loc)}: required field is missing"
    message = str(err["msg"]).removeprefix("Value error, ")
    value = err.get("input")
    if kind != "value_error" and isinstance(value, str | int | float) and len(str(value)) <= 60:
        message += f" (got {value!r})"
    return f"{_path(loc)}: {message}"


def _one_of(names: Iterable[str]) -> str:
    return ", ".join(sorted(names)) or "(none defined)"


def _duplicates(kind: str, ids: Sequence[str]) -> Iterable[str]:
    seen: dict[str, int] = {}
    for i, ident in enumerate(ids):
        if ident in seen:
            yield f"{kind}[{i}].id: duplicate id {ident!r} (also {kind}[{seen[ident]}])"
        seen.setdefault(ident, i)


def _references(spec: PolicySpec) -> Iterable[str]:
    """Every problem that needs more than one field to see: names, coverage, kinds."""
    calendars = {c.id for c in spec.calendars}
    queues = {q.id: q for q in spec.queues}
    labels = [band.label for band in spec.priority.bands]
    yield from _duplicates("calendars", [c.id for c in spec.calendars])
    yield from _duplicates("queues", [q.id for q in spec.queues])
    yield from _duplicates("rules", [r.id for r in spec.rules])

    for i, cal in enumerate(spec.calendars):
        if cal.always_open and (cal.weekly or cal.overrides or cal.holidays):
            yield f"calendars[{i}].always_open: a 24x7 calendar takes no weekly hours, holidays or overrides"
        if not cal.always_open and not cal.weekly:
            yield f"calendars[{i}].weekly: give weekly hours, or set always_open: true for 24x7"
        days = [(f"weekly.{day}", hours) for day, hours in cal.weekly.items()]
        days += [(f"overrides[{j}].hours", o.hours) for j, o in enumerate(cal.overrides)]
        for where, hours in days:
            ranges = sorted(hours_to_minutes(h) for h in hours)
            if any(nxt[0] < prev[1] for prev, nxt in pairwise(ranges)):
                yield f"calendars[{i}].{where}: hours overlap ({', '.join(hours)})"

    served: dict[Channel, str] = {}
    for i, queue in enumerate(spec.queues):
        where = f"queues[{i}]"
        if queue.calendar not in calendars:
            yield f"{where}.calendar: unknown calendar {queue.calendar!r}; expected one of: {_one_of(calendars)}"
        if queue.kind == QueueKind.OUTSOURCED and not queue.vendor:
            yield f"{where}.vendor: an outsourced queue must name its vendor"
        if queue.kind == QueueKind.IN_HOUSE and queue.vendor:
            yield f"{where}.vendor: an in-house queue has no vendor (or set kind: outsourced)"
        for channel in queue.channels:
            served.setdefault(channel, where)
            if channel not in queue.capacity.concurrency:
                yield f"{where}.capacity.concurrency: missing channel {channel.value!r}, which this queue serves"

    for channel, where in served.items():
        if channel not in spec.handle_time_seconds:
            yield f"handle_time_seconds: missing channel {channel.value!r} (served by {where})"
        if channel not in spec.sla.first_response_seconds:
            yield f"sla.first_response_seconds: missing channel {channel.value!r} (served by {where})"

    def queue_ref(path: str, name: str) -> Iterable[str]:
        if name not in queues:
            yield f"{path}: unknown queue {name!r}; expected one of: {_one_of(queues)}"

    def action_refs(path: str, action: Action) -> Iterable[str]:
        yield from queue_ref(f"{path}.queue", action.queue)
        for j, name in enumerate(action.fallback):
            yield from queue_ref(f"{path}.fallback[{j}]", name)

    for i, rule in enumerate(spec.rules):
        if rule.id == "default":
            yield f"rules[{i}].id: 'default' is the name of the default route; choose another id"
        yield from action_refs(f"rules[{i}].action", rule.action)
        for name in rule.match.queue_open or {}:
            yield from queue_ref(f"rules[{i}].match.queue_open.{name}", name)
        for j, label in enumerate(rule.match.priority_label or []):
            if label not in labels:
                yield f"rules[{i}].match.priority_label[{j}]: unknown label {label!r}; expected one of: {_one_of(labels)}"
    yield from action_refs("default", spec.default)

    yield from _duplicates("priority.bands", labels)
    if not any(band.min == 0 for band in spec.priority.bands):
        yield "priority.bands: one band needs min: 0, so that every score gets a label"
    for label in spec.sla.by_priority_label:
        if label not in labels:
            yield f"sla.by_priority_label.{label}: unknown label {label!r}; expected one of: {_one_of(labels)}"

    if spec.overflow is not None:
        for j, name in enumerate(spec.overflow.queues):
            path = f"overflow.queues[{j}]"
            if name not in queues:
                yield from queue_ref(path, name)
            elif queues[name].kind != QueueKind.OUTSOURCED:
                yield f"{path}: queue {name!r} is in_house; overflow targets must be outsourced"
    if spec.never_outsource is not None:
        fallback = spec.never_outsource.in_house_fallback
        path = "never_outsource.in_house_fallback"
        if fallback not in queues:
            yield from queue_ref(path, fallback)
        elif queues[fallback].kind != QueueKind.IN_HOUSE:
            yield f"{path}: queue {fallback!r} is outsourced; expected an in-house queue"
