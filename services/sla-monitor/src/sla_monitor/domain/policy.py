"""The SLA policy file: its YAML shape and validation, with errors naming the YAML path.

A policy has calendars (the router's shape), queues with the calendar each works by,
default calendars per queue kind, rules and a default. Each rule matches on channel,
priority label and customer tier and sets one or more targets: `first_response`,
`next_response` (after a customer reply) and `resolution`. For each target the most
specific matching rule that sets it wins (most conditions; the earlier rule on a tie);
the `default` section sets what no rule does. `contracts` are customer contracts (a
customer record's `contract_id`) with rules of their own, on channel and priority, that
come before all of these for the targets they set (`contracts.py`).

A target counts `business` time by the queue's calendar or `calendar` time, warns
before the breach (a share of the target or a lead time; several levels), breaches at
the target, and escalates at times after the breach.

`load_spec(text)` parses YAML (safe_load), validates with pydantic and then every
cross-reference, and raises one `PolicyInvalid` listing every problem as
``rules[2].first_response.warnings[0].share (line 31): ...``. The compiled policy, what
the clocks read, is `compiled.SlaPolicy`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from sla_monitor.domain.durations import format_duration, parse_duration
from sla_monitor.domain.errors import PolicyInvalid
from switchboard_calendars import (
    CalendarSpec,
    Name,
    calendar_problems,
    duplicate_ids,
    load_yaml_model,
    queue_problems,
    unknown,
)
from switchboard_events import Channel, QueueKind, SlaTarget

MAX_TARGET_SECONDS = 366 * 86_400
"""The alert contract bounds targets and elapsed time to a year."""
MAX_LEVELS = 10

Duration = Annotated[int, BeforeValidator(parse_duration), Field(gt=0, le=MAX_TARGET_SECONDS)]
Slug = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=64)
]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
Basis = Literal["business", "calendar"]
OutsideHours = Literal["send", "hold"]


def _listify(value: object) -> object:
    return [value] if isinstance(value, str) else value


def _share(value: object) -> object:
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            return float(value.strip()[:-1]) / 100
        except ValueError:
            raise ValueError(f"expected a share like 0.8 or '80%', got {value!r}") from None
    return value


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WarningSpec(_Spec):
    """A warning before the breach: at a share of the target, or a lead time before it."""

    share: Annotated[float | None, BeforeValidator(_share), Field(gt=0, lt=1)] = None
    before: Duration | None = None

    @model_validator(mode="after")
    def _one_of(self) -> WarningSpec:
        if (self.share is None) == (self.before is None):
            raise ValueError("give exactly one of share (e.g. 0.8 or '80%') or before (e.g. '5m')")
        return self

    def threshold(self, target: int) -> float:
        """Elapsed seconds at which it fires."""
        return self.share * target if self.share is not None else float(target - (self.before or 0))

    def describe(self) -> str:
        return (
            f"{self.share:.0%}"
            if self.share is not None
            else f"{format_duration(self.before or 0)} before"
        )


class TargetSpec(_Spec):
    """One SLA target: how long, on which clock, with its warnings and escalations."""

    target: Duration
    clock: Basis = "business"
    warnings: list[WarningSpec] = Field(default_factory=list, max_length=MAX_LEVELS)
    escalations: Annotated[list[Duration], Field(max_length=MAX_LEVELS)] = Field(
        default_factory=list, description="times after the breach, ascending"
    )
    outside_hours: OutsideHours = Field(
        "send",
        description="a warning or escalation reached while the team is closed: send it at"
        " once, or hold it until the team's next opening (the breach is always exact; a"
        " warning held until its breach or later is dropped)",
    )

    @model_validator(mode="after")
    def _levels_in_order(self) -> TargetSpec:
        problems = []
        for i, warning in enumerate(self.warnings):
            if warning.before is not None and warning.before >= self.target:
                problems.append(
                    f"warnings[{i}]: a warning {format_duration(warning.before)} before a"
                    f" {format_duration(self.target)} target would fire at or before the start"
                )
        thresholds = [w.threshold(self.target) for w in self.warnings]
        if len(set(thresholds)) != len(thresholds):
            problems.append("two warnings fire at the same time; give each its own point")
        if any(b <= a for a, b in zip(self.escalations, self.escalations[1:], strict=False)):
            problems.append(
                "escalations must be strictly ascending times after the breach, got "
                + ", ".join(format_duration(e) for e in self.escalations)
            )
        if self.escalations and self.target + self.escalations[-1] > MAX_TARGET_SECONDS:
            problems.append("the last escalation is more than a year after the start")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class Match(_Spec):
    """Conditions of a rule; each is a list of accepted values (a single value is fine)."""

    channel: Annotated[list[Channel] | None, BeforeValidator(_listify)] = None
    priority: Annotated[list[Label] | None, BeforeValidator(_listify)] = Field(
        None, description="priority labels from the routing decision, e.g. P1"
    )
    tier: Annotated[list[Slug] | None, BeforeValidator(_listify)] = Field(
        None, description="customer tiers (data.customer.tier); an unknown tier never matches"
    )

    @field_validator("channel", "priority", "tier")
    @classmethod
    def _not_empty(cls, value: list[Any] | None) -> list[Any] | None:
        if value is not None and not value:
            raise ValueError("an empty list matches nothing; leave the condition out instead")
        return value

    @property
    def specificity(self) -> int:
        return sum(v is not None for v in (self.channel, self.priority, self.tier))

    def key(self) -> tuple[frozenset[str] | None, ...]:
        return tuple(
            None if v is None else frozenset(str(x) for x in v)
            for v in (self.channel, self.priority, self.tier)
        )

    def describe(self) -> str:
        parts = [
            f"{name} in [{', '.join(str(v) for v in values)}]"
            for name, values in (
                ("channel", self.channel),
                ("priority", self.priority),
                ("tier", self.tier),
            )
            if values is not None
        ]
        return " and ".join(parts) or "anything"


class Targets(_Spec):
    first_response: TargetSpec | None = None
    next_response: TargetSpec | None = None
    resolution: TargetSpec | None = None

    def get(self, target: SlaTarget) -> TargetSpec | None:
        spec: TargetSpec | None = getattr(self, target.value)
        return spec


class RuleSpec(Targets):
    """Sets one or more targets for the contacts it matches."""

    id: Name
    description: str | None = None
    match: Match


class ContractRuleSpec(Targets):
    """A contract's targets for the contacts it matches (channel, priority; none: all)."""

    id: Name
    description: str | None = None
    match: Match = Field(default_factory=Match)

    @model_validator(mode="after")
    def _no_tier(self) -> ContractRuleSpec:
        if self.match.tier is not None:
            raise ValueError("match.tier: a contract applies whatever the tier; leave tier out")
        if all(self.get(t) is None for t in SlaTarget):
            raise ValueError("sets no target; give first_response, next_response or resolution")
        return self


class ContractSpec(_Spec):
    """A customer contract (`contract_id` of a customer record): its rules override the
    tier's for the targets and channels they set; the rest comes from the rules as usual."""

    id: Name
    description: str | None = None
    rules: list[ContractRuleSpec] = Field(min_length=1)


class QueueSpec(_Spec):
    """A queue the policy knows: the calendar it works by, and who staffs it (for transfers)."""

    id: Name
    kind: QueueKind
    vendor: str | None = None
    calendar: Name


class DefaultCalendars(_Spec):
    """The calendar of a queue the policy does not list, by its kind."""

    in_house: Name
    outsourced: Name


class TeamSpec(_Spec):
    """A team that receives handovers: its queues, and the hours its OLAs count by."""

    id: Name
    queues: list[Name] = Field(min_length=1)
    calendar: Name | None = Field(
        None, description="the hours its OLAs count by; default: the receiving queue's calendar"
    )


class OlaSpec(_Spec):
    """An operational-level target of a receiving team: from a handover to its response."""

    id: Name
    description: str | None = None
    team: Annotated[list[Name], BeforeValidator(_listify), Field(min_length=1)]
    match: Match = Field(default_factory=Match)
    first_response: TargetSpec


class PolicySpec(_Spec):
    """The whole SLA policy file."""

    name: str | None = None
    calendars: list[CalendarSpec] = Field(min_length=1)
    queues: list[QueueSpec] = Field(default_factory=list)
    default_calendars: DefaultCalendars
    rules: list[RuleSpec] = Field(default_factory=list)
    default: Targets
    contracts: list[ContractSpec] = Field(default_factory=list)
    teams: list[TeamSpec] = Field(default_factory=list)
    olas: list[OlaSpec] = Field(default_factory=list)


# -- loading ------------------------------------------------------------------------------

DEFAULT_RULE = "default"
"""The name the default section answers to, in explanations and alerts."""


def load_spec(content: bytes) -> PolicySpec:
    """Parse and validate a policy file; `PolicyInvalid` lists every problem with its path."""
    return load_yaml_model(content, PolicySpec, _cross_checks, PolicyInvalid)


def _cross_checks(spec: PolicySpec) -> Iterator[str]:
    """Every problem that needs more than one field to see."""
    calendars = {c.id for c in spec.calendars}
    yield from calendar_problems(spec.calendars)
    yield from queue_problems(spec.queues, calendars)
    yield from duplicate_ids("rules", [r.id for r in spec.rules])
    for kind in ("in_house", "outsourced"):
        yield from unknown(
            f"default_calendars.{kind}",
            "calendar",
            getattr(spec.default_calendars, kind),
            calendars,
        )
    yield from _team_checks(spec, calendars)
    for target in (SlaTarget.FIRST_RESPONSE, SlaTarget.RESOLUTION):
        if spec.default.get(target) is None:
            yield f"default.{target.value}: required: the default must set first_response and resolution"
    for i, rule in enumerate(spec.rules):
        if rule.id == DEFAULT_RULE:
            yield f"rules[{i}].id: {DEFAULT_RULE!r} is the name of the default section; pick another"
        if rule.match.specificity == 0:
            yield f"rules[{i}].match: give at least one condition; the default section covers the rest"
        if all(rule.get(t) is None for t in SlaTarget):
            yield f"rules[{i}]: sets no target; give first_response, next_response or resolution"
    yield from _shadowed("rules", spec.rules)
    yield from duplicate_ids("contracts", [c.id for c in spec.contracts])
    for n, contract in enumerate(spec.contracts):
        yield from duplicate_ids(f"contracts[{n}].rules", [r.id for r in contract.rules])
        yield from _shadowed(f"contracts[{n}].rules", contract.rules)


def _shadowed(where: str, rules: Sequence[RuleSpec | ContractRuleSpec]) -> Iterator[str]:
    """Targets that a rule sets in vain: an earlier rule has the same conditions and sets it."""
    seen: dict[tuple[object, ...], int] = {}
    for i, rule in enumerate(rules):
        for target in SlaTarget:
            if rule.get(target) is None:
                continue
            key = (target, rule.match.key())
            if key in seen:
                yield (
                    f"{where}[{i}].{target.value}: never used: {where}[{seen[key]}] has the"
                    f" same conditions and sets {target.value} first"
                )
            seen.setdefault(key, i)


def _team_checks(spec: PolicySpec, calendars: set[str]) -> Iterator[str]:
    """Teams and OLAs: known calendars and teams, each queue in one team, no unusable OLA."""
    yield from duplicate_ids("teams", [t.id for t in spec.teams])
    yield from duplicate_ids("olas", [o.id for o in spec.olas])
    owner: dict[str, str] = {}
    for i, team in enumerate(spec.teams):
        if team.calendar is not None:
            yield from unknown(f"teams[{i}].calendar", "calendar", team.calendar, calendars)
        for queue in team.queues:
            if owner.setdefault(queue, team.id) != team.id:
                yield f"teams[{i}].queues: queue {queue!r} is in team {owner[queue]!r} already"
    teams = {t.id for t in spec.teams}
    seen: dict[tuple[object, ...], int] = {}
    for i, ola in enumerate(spec.olas):
        for team_id in ola.team:
            yield from unknown(f"olas[{i}].team", "team", team_id, teams)
            key = (team_id, ola.match.key())
            if key in seen:
                yield (
                    f"olas[{i}]: never used: olas[{seen[key]}] has the same conditions for"
                    f" team {team_id!r}"
                )
            seen.setdefault(key, i)
