"""The compiled SLA policy: calendars built, each contact's targets resolved by its facts.

`load_policy(content)` validates a file (`policy.load_spec`) and compiles it; the clocks
(`clock.fold`) and `explain` read only the compiled `SlaPolicy`. For each target the most
specific matching rule that sets it wins (most conditions; the earlier rule on a tie); the
`default` section sets what no rule does. The rules of the customer's contract, if the policy
defines it, come first (`contracts.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sla_monitor.domain.contracts import contract_rules
from sla_monitor.domain.durations import format_duration
from sla_monitor.domain.policy import (
    DEFAULT_RULE,
    Basis,
    ContractSpec,
    Match,
    PolicySpec,
    QueueSpec,
    TargetSpec,
    TeamSpec,
    load_spec,
)
from switchboard_calendars import Calendar
from switchboard_events import AlertKind, Channel, QueueKind, SlaTarget


def load_policy(content: bytes | str, version: str) -> SlaPolicy:
    """Parse, validate and compile a policy file's content, whose version (a hash of its
    bytes, `switchboard_runtime.policies.policy_version`) is `version`; `PolicyInvalid`
    lists every problem with its path."""
    return SlaPolicy(load_spec(content.encode() if isinstance(content, str) else content), version)


@dataclass(frozen=True, slots=True)
class Facts:
    """What the policy matches on, from the routing decision."""

    channel: Channel
    priority_label: str
    tier: str | None
    contract: str | None = None


def matches(match: Match, facts: Facts) -> bool:
    """Whether a rule's conditions hold for a contact's facts."""
    return (
        (match.channel is None or facts.channel in match.channel)
        and (match.priority is None or facts.priority_label in match.priority)
        and (match.tier is None or (facts.tier is not None and facts.tier in match.tier))
    )


@dataclass(frozen=True, slots=True)
class Level:
    """One alert of a target: warning n, the breach, or escalation n, at elapsed `threshold`."""

    kind: AlertKind
    number: int
    threshold: float
    label: str


@dataclass(frozen=True)
class ResolvedTarget:
    """A target as it applies to one contact: its length, clock, levels and the rule that set it
    (`contract`: the contract of that rule, None for the policy's rules and the default)."""

    target: SlaTarget
    seconds: int
    basis: Basis
    levels: tuple[Level, ...]
    rule: str
    spec: TargetSpec
    contract: str | None = None


def resolve_target(
    target: SlaTarget, spec: TargetSpec, rule: str, contract: str | None = None
) -> ResolvedTarget:
    warnings = sorted(spec.warnings, key=lambda w: w.threshold(spec.target))
    levels = [
        Level(AlertKind.WARNING, n, w.threshold(spec.target), w.describe())
        for n, w in enumerate(warnings, start=1)
    ]
    levels.append(Level(AlertKind.BREACH, 1, float(spec.target), "at the target"))
    levels += [
        Level(
            AlertKind.ESCALATION,
            n,
            float(spec.target + after),
            f"{format_duration(after)} after the breach",
        )
        for n, after in enumerate(spec.escalations, start=1)
    ]
    return ResolvedTarget(target, spec.target, spec.clock, tuple(levels), rule, spec, contract)


@dataclass(frozen=True)
class Candidate:
    """A rule considered for a target, for `explain`."""

    rule: str
    conditions: str
    specificity: int
    chosen: bool
    contract: str | None = None


@dataclass
class SlaPolicy:
    """A validated policy, compiled: calendars built, target resolution cached per facts."""

    spec: PolicySpec
    version: str
    calendars: dict[str, Calendar] = field(init=False)
    queues: dict[str, QueueSpec] = field(init=False)
    contracts: dict[str, ContractSpec] = field(init=False)
    teams: dict[str, TeamSpec] = field(init=False)
    team_of: dict[str, str] = field(init=False)  # queue id -> the team it belongs to
    _targets: dict[Facts, dict[SlaTarget, ResolvedTarget]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.calendars = {c.id: Calendar.compile(c) for c in self.spec.calendars}
        self.queues = {q.id: q for q in self.spec.queues}
        self.contracts = {c.id: c for c in self.spec.contracts}
        self.teams = {t.id: t for t in self.spec.teams}
        self.team_of = {q: t.id for t in self.spec.teams for q in t.queues}

    @property
    def name(self) -> str:
        return self.spec.name or "sla-policy"

    def calendar_for(self, queue_id: str, kind: QueueKind) -> tuple[Calendar, str]:
        """The calendar a queue works by, and why."""
        queue = self.queues.get(queue_id)
        if queue is not None:
            return self.calendars[queue.calendar], f"queue {queue_id} works by {queue.calendar}"
        name = getattr(self.spec.default_calendars, kind.value)
        return self.calendars[
            name
        ], f"queue {queue_id} is not listed: default for {kind.value} queues is {name}"

    def contract_for(self, facts: Facts) -> ContractSpec | None:
        """The contact's contract, if this policy defines it (else its tier's targets apply)."""
        return None if facts.contract is None else self.contracts.get(facts.contract)

    def targets_for(self, facts: Facts) -> dict[SlaTarget, ResolvedTarget]:
        """Each target that applies, from the most specific rule that sets it (cached)."""
        found = self._targets.get(facts)
        if found is None:
            found = {}
            for target in SlaTarget:
                chosen = self._choose(target, facts)
                if chosen is not None:
                    found[target] = resolve_target(target, *chosen)
            if len(self._targets) > 10_000:
                self._targets.clear()
            self._targets[facts] = found
        return found

    def candidates(self, target: SlaTarget, facts: Facts) -> list[Candidate]:
        """Every rule that matches and sets `target`, most specific first; the chosen one marked."""
        chosen = self._choose(target, facts)
        contract = self.contract_for(facts)
        found = (
            [
                Candidate(
                    r.id,
                    r.match.describe(),
                    r.match.specificity,
                    chosen is not None and chosen[1:] == (r.id, contract.id),
                    contract.id,
                )
                for r, _ in contract_rules(contract, target, facts.channel, facts.priority_label)
            ]
            if contract is not None
            else []
        )
        rules = sorted(
            (
                (i, r)
                for i, r in enumerate(self.spec.rules)
                if r.get(target) is not None and matches(r.match, facts)
            ),
            key=lambda pair: (-pair[1].match.specificity, pair[0]),
        )
        found += [
            Candidate(
                r.id,
                r.match.describe(),
                r.match.specificity,
                chosen is not None and chosen[1:] == (r.id, None),
            )
            for _, r in rules
        ]
        if self.spec.default.get(target) is not None:
            found.append(
                Candidate(
                    DEFAULT_RULE,
                    "anything",
                    0,
                    chosen is not None and chosen[1:] == (DEFAULT_RULE, None),
                )
            )
        return found

    def _choose(self, target: SlaTarget, facts: Facts) -> tuple[TargetSpec, str, str | None] | None:
        """(target, rule, contract) that sets `target`: the contract's rules first."""
        contract = self.contract_for(facts)
        if contract is not None:
            rules = contract_rules(contract, target, facts.channel, facts.priority_label)
            if rules:
                winner, winning = rules[0]
                return winning, winner.id, contract.id
        best: tuple[int, TargetSpec, str] | None = None
        for rule in self.spec.rules:
            spec = rule.get(target)
            if spec is None or not matches(rule.match, facts):
                continue
            if best is None or rule.match.specificity > best[0]:
                best = (rule.match.specificity, spec, rule.id)
        if best is not None:
            return best[1], best[2], None
        default = self.spec.default.get(target)
        return (default, DEFAULT_RULE, None) if default is not None else None

    def summary(self) -> str:
        return (
            f"{self.name} {self.version}: {len(self.spec.rules)} rules, {len(self.calendars)} calendars,"
            f" {len(self.queues)} queues, {len(self.contracts)} contracts"
        )
