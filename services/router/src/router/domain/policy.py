"""The routing policy file: its YAML shape, validation, and errors that name the YAML path.

`load_policy(text)` parses YAML (safe_load), validates the structure with pydantic and
then every cross-reference (queue, calendar and band names), collecting all problems
before it raises one `PolicyInvalid` whose lines read
``rules[3].action.queue (line 172): unknown queue 'billing-x'; expected one of: ...``.
Calendars have the shared shape of `switchboard_calendars.CalendarSpec`.
Its version is the hash of its bytes (`switchboard_runtime.policies.policy_version`),
so the same file always has the same version and any edit gives a new one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

import switchboard_calendars
from switchboard_calendars import (
    CalendarSpec,
    Name,
    calendar_problems,
    duplicate_ids,
    load_yaml_model,
    queue_problems,
    unknown,
)
from switchboard_events import Channel, QueueKind

Slug = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1)]
Visibility = Literal["full", "minimised"]
AttributeScalar = str | bool | int | float


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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


# A part of a Kafka topic name: the vendor's decisions go to routing.decisions.vendor.<id>.
VendorId = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._-]+$")
]


class QueueSpec(_Spec):
    """A queue: who staffs it, what it serves, when, with what capacity and data visibility."""

    id: Name
    kind: QueueKind
    vendor: VendorId | None = None
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
    target_share: float = Field(
        0.8,
        gt=0,
        lt=1,
        description="share of contacts answered within first_response_seconds: the service"
        " level staffing plans for (0.8: 80% within the target)",
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


class PolicyInvalid(switchboard_calendars.PolicyInvalid):
    """The policy file is wrong; `problems` are 'path (line n): what is wrong' lines."""

    what = "routing policy"


def load_policy(content: bytes | str) -> PolicySpec:
    """Parse and validate a policy; raise `PolicyInvalid` listing every problem with its path."""
    return load_yaml_model(content, PolicySpec, _references, PolicyInvalid)


def _references(spec: PolicySpec) -> Iterable[str]:
    """Every problem that needs more than one field to see: names, coverage, kinds."""
    queues = {q.id: q for q in spec.queues}
    labels = [band.label for band in spec.priority.bands]
    yield from calendar_problems(spec.calendars)
    yield from queue_problems(spec.queues, {c.id for c in spec.calendars})
    yield from duplicate_ids("rules", [r.id for r in spec.rules])

    served: dict[Channel, str] = {}
    for i, queue in enumerate(spec.queues):
        where = f"queues[{i}]"
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
        yield from unknown(path, "queue", name, queues)

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
            yield from unknown(f"rules[{i}].match.priority_label[{j}]", "label", label, labels)
    yield from action_refs("default", spec.default)

    yield from duplicate_ids("priority.bands", labels)
    if not any(band.min == 0 for band in spec.priority.bands):
        yield "priority.bands: one band needs min: 0, so that every score gets a label"
    for label in spec.sla.by_priority_label:
        yield from unknown(f"sla.by_priority_label.{label}", "label", label, labels)

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
