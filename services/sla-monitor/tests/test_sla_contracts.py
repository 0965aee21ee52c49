"""Customer contracts: their rules override the tier's for the targets and channels they
set, an undefined contract falls back to the tier, alerts and `explain` name the contract."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY
from sla_fakes import NO_SESSIONS, FakeClockStore
from sla_scorecard_fakes import FakeScorecardStore
from sla_support import brute_open, office_calendar, policy_of, records
from sqlalchemy.ext.asyncio import AsyncSession

from sla_monitor.__main__ import main
from sla_monitor.config import DEFAULT_POLICY, SlaSettings
from sla_monitor.domain.alerts import build_alert
from sla_monitor.domain.clock import Decision, PendingAlert, QueueRef, fold
from sla_monitor.domain.compiled import Facts, SlaPolicy
from sla_monitor.domain.errors import PolicyInvalid
from sla_monitor.domain.explain import explain, render
from sla_monitor.repository.rows import pending_from, pending_json
from sla_monitor.service import SlaHandler, decision_of, replan
from sla_monitor.wiring import policies
from switchboard_calendars import instant
from switchboard_events import AlertKind, Channel, Event, QueueKind, SlaTarget
from switchboard_events.testing import decided
from switchboard_runtime import db
from switchboard_runtime.testing import ManualClock, run_batch

POLICY = (
    "\ncalendars:\n"
    + office_calendar("2026-03-04")
    + """queues:
  - {id: general, kind: in_house, calendar: office}
default_calendars: {in_house: office, outsourced: office}
rules:
  - id: email
    match: {channel: email}
    first_response: {target: 4h}
  - id: vip-email
    match: {channel: email, tier: vip}
    first_response: {target: 1h}
default:
  first_response: {target: 2h}
  resolution: {target: 1d}
contracts:
  - id: gold
    description: the gold agreement
    rules:
      - id: gold-email
        match: {channel: email}
        first_response: {target: 30m, warnings: [{share: 50%}], escalations: [15m]}
      - id: gold-email-p1
        match: {channel: email, priority: P1}
        first_response: {target: 10m}
      - id: gold-p1
        match: {priority: P1}
        resolution: {target: 2h}
"""
)

T0 = datetime.fromisoformat("2026-03-02T10:00:00+00:00").timestamp()  # a Monday, 10:00 GMT


@pytest.fixture(scope="module")
def policy() -> SlaPolicy:
    return policy_of(POLICY)


def set_by(policy: SlaPolicy, facts: Facts) -> dict[str, tuple[int, str, str | None]]:
    return {t.value: (r.seconds, r.rule, r.contract) for t, r in policy.targets_for(facts).items()}


def contract_decision(
    contract: str | None, channel: Channel = Channel.EMAIL, label: str = "P3", at: float = T0
) -> Decision:
    queue = QueueRef("general", QueueKind.IN_HOUSE, None)
    return Decision("c1", queue, 400, label, channel, "vip", at, contract)


def test_a_contract_overrides_the_tier_for_the_targets_and_channels_it_names(
    policy: SlaPolicy,
) -> None:
    assert set_by(policy, Facts(Channel.EMAIL, "P3", "vip", "gold")) == {
        "first_response": (1800, "gold-email", "gold"),
        "resolution": (86400, "default", None),
    }, "the contract's email target beats even the vip rule; resolution is not in it for P3"
    assert set_by(policy, Facts(Channel.EMAIL, "P1", "vip", "gold")) == {
        "first_response": (600, "gold-email-p1", "gold"),
        "resolution": (7200, "gold-p1", "gold"),
    }, "the most specific contract rule wins"
    assert set_by(policy, Facts(Channel.CHAT, "P3", "vip", "gold")) == {
        "first_response": (7200, "default", None),
        "resolution": (86400, "default", None),
    }, "a channel the contract does not name keeps the policy's targets"


def test_an_undefined_contract_keeps_the_tier_s_targets(policy: SlaPolicy) -> None:
    unknown = Facts(Channel.EMAIL, "P1", "vip", "platinum")
    assert policy.contract_for(unknown) is None
    assert set_by(policy, unknown) == set_by(policy, Facts(Channel.EMAIL, "P1", "vip", None))
    assert set_by(policy, unknown)["first_response"] == (3600, "vip-email", None)


def unknown_contracts() -> float:
    return REGISTRY.get_sample_value("switchboard_sla_unknown_contracts_total") or 0.0


UNKNOWN: list[Event] = [
    decided("a", channel="email", tier="vip", contract_id="platinum"),
    decided("b", channel="email", tier="vip", contract_id="gold"),
    decided("c", channel="email", tier="vip"),
]
"""One decision naming a contract POLICY does not define, one a defined one, one none."""


async def test_the_service_counts_decisions_naming_an_undefined_contract(tmp_path: Path) -> None:
    path = tmp_path / "sla.yaml"
    path.write_text(POLICY)
    store = FakeClockStore()
    holder = policies(SlaSettings(policy_path=path), NO_SESSIONS, ManualClock())
    handler = SlaHandler(holder, store, FakeScorecardStore())
    before = unknown_contracts()
    session = AsyncSession()  # no database: the fakes never use it, its commit is the batch's
    await handler(records(UNKNOWN), session)
    assert unknown_contracts() == before, "counted once the batch commits"
    await session.commit()
    assert unknown_contracts() - before == 1
    due = {k[0]: p for k, (p, _) in store.timers.items() if k[1:3] == ("first_response", "breach")}
    assert (due["a"].rule, due["a"].contract) == ("vip-email", None), "not dead-lettered"
    assert (due["b"].rule, due["b"].contract) == ("gold-email", "gold")


async def test_an_undefined_contract_is_counted_once_whatever_retries_replays_and_replans(
    tmp_path: Path, database_url: str
) -> None:
    """On PostgreSQL: an attempt rolled back (as the runner's retry or halving does) counts
    nothing, the committed one counts the decision, a replay and a re-plan do not again."""
    path = tmp_path / "sla.yaml"
    path.write_text(POLICY)
    engine = db.make_engine(database_url)
    sessions = db.make_sessionmaker(engine)
    try:
        handler = SlaHandler(policies(SlaSettings(policy_path=path), sessions, ManualClock()))
        before = unknown_contracts()
        async with sessions() as session:
            attempt = await session.begin()
            await handler(records(UNKNOWN), session)
            await attempt.rollback()
        assert unknown_contracts() == before, "a rolled-back attempt counts nothing"
        await run_batch(handler, sessions, UNKNOWN)
        assert unknown_contracts() - before == 1
        await run_batch(handler, sessions, UNKNOWN)  # the same events again: a replay
        assert await replan(sessions, policy_of(POLICY + "\n# another version\n")) == 3
        assert unknown_contracts() - before == 1, "neither the replay nor the re-plan counts"
    finally:
        await engine.dispose()


def test_the_decision_event_s_contract_reaches_the_clocks() -> None:
    row = decision_of(decided("c1", channel="email", contract_id="gold"))
    assert row.decision.contract_id == "gold"
    assert row.decision.facts.contract == "gold"
    assert decision_of(decided("c2")).decision.contract_id is None


def test_alerts_name_the_contract_and_rule_that_set_the_target(policy: SlaPolicy) -> None:
    pending = fold(contract_decision("gold"), [], policy).pending_alerts()
    breach = next(
        p for p in pending if p.target is SlaTarget.FIRST_RESPONSE and p.kind is AlertKind.BREACH
    )
    assert breach.fire_at - T0 == 1800
    assert pending_from(_stored(breach)) == breach, "the timer keeps the contract"
    data = build_alert(breach, instant(breach.fire_at)).data
    assert (data.policy_rule, data.contract_id) == ("gold-email", "gold")
    tier = fold(contract_decision(None), [], policy).pending_alerts()
    assert {build_alert(p, instant(p.fire_at)).data.contract_id for p in tier} == {None}


def _stored(p: PendingAlert) -> SimpleNamespace:
    """A due-alerts row as the repository reads it back."""
    return SimpleNamespace(
        contact_id=p.contact_id,
        target=p.target.value,
        kind=p.kind.value,
        cycle=p.cycle,
        level=p.level,
        team=p.team or "",
        alert=pending_json(p),
    )


def test_explain_shows_the_contract_and_the_rule_of_each_target(policy: SlaPolicy) -> None:
    found = explain(policy, contract_decision("gold", label="P1"), [], T0)
    assert found["facts"]["contract"] == "gold"
    assert found["facts"]["contract_defined"] is True
    first, resolution = found["targets"]
    assert (first["rule"], first["contract"]) == ("gold-email-p1", "gold")
    assert [(c["contract"], c["rule"], c["chosen"]) for c in first["candidates"]] == [
        ("gold", "gold-email-p1", True),
        ("gold", "gold-email", False),
        (None, "vip-email", False),
        (None, "email", False),
        (None, "default", False),
    ]
    assert (resolution["rule"], resolution["contract"]) == ("gold-p1", "gold")
    assert found["now"]["targets"][0]["contract"] == "gold"
    text = render(found)
    assert "contract: gold\n" in text
    assert (
        "first_response: 10m of business time, set by rule gold-email-p1 of contract gold" in text
    )
    assert "-> gold-email-p1 of contract gold (channel in [email] and priority in [P1]" in text

    missing = render(explain(policy, contract_decision("platinum"), [], T0))
    assert "contract: platinum: not in this policy, the tier's targets apply" in missing
    assert "first_response: 1h of business time, set by rule vip-email\n" in missing


def test_the_shipped_policy_has_a_contract_and_explain_shows_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shipped = policy_of(DEFAULT_POLICY.read_bytes())
    assert shipped.contracts, "the example policy shows a customer contract"
    contract = next(iter(shipped.contracts))
    event = decided("c1", channel="call", tier="standard", contract_id=contract)
    (tmp_path / "decision.json").write_text(event.model_dump_json())
    args = ["explain", "--decision", str(tmp_path / "decision.json")]
    assert main([*args, "--policy", str(DEFAULT_POLICY), "--json"]) == 0
    out = capsys.readouterr().out
    assert f'"contract": "{contract}"' in out
    assert main([*args, "--policy", str(DEFAULT_POLICY)]) == 0
    assert f"of contract {contract}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("contracts", "expected"),
    [
        (
            "  - {id: gold, rules: [{id: a, first_response: {target: 1h}}]}\n"
            "  - {id: gold, rules: [{id: b, first_response: {target: 1h}}]}\n",
            "contracts[1].id: duplicate id 'gold' (also contracts[0])",
        ),
        (
            "  - {id: gold, rules: [{id: a, first_response: {target: 1h}},"
            " {id: a, resolution: {target: 1d}}]}\n",
            "contracts[0].rules[1].id: duplicate id 'a' (also contracts[0].rules[0])",
        ),
        (
            "  - {id: gold, rules: [{id: a, match: {channel: call}, first_response: {target: 1h}},"
            " {id: b, match: {channel: call}, first_response: {target: 2h}}]}\n",
            "contracts[0].rules[1].first_response: never used: contracts[0].rules[0]",
        ),
        (
            "  - {id: gold, rules: [{id: a, match: {tier: vip}, first_response: {target: 1h}}]}\n",
            "match.tier: a contract applies whatever the tier",
        ),
        ("  - {id: gold, rules: [{id: a}]}\n", "sets no target"),
        ("  - {id: gold, rules: []}\n", "contracts[0].rules"),
    ],
)
def test_contract_mistakes_are_named_by_their_path(contracts: str, expected: str) -> None:
    base = POLICY[: POLICY.index("contracts:")]
    with pytest.raises(PolicyInvalid) as caught:
        policy_of(base + "contracts:\n" + contracts)
    found = [re.sub(r" \(line \d+\)", "", p) for p in caught.value.problems]
    assert any(expected in p for p in found), found


# Whole minutes of business time, arrivals at whole minutes over two weeks (with a holiday).
@settings(max_examples=60, deadline=None)
@given(
    target_minutes=st.integers(min_value=1, max_value=3 * 8 * 60),
    arrival_minute=st.integers(min_value=0, max_value=14 * 24 * 60),
)
def test_a_contract_target_falls_due_where_the_minute_by_minute_reference_says(
    target_minutes: int, arrival_minute: int
) -> None:
    policy = policy_of(
        POLICY.replace(
            "first_response: {target: 30m, warnings: [{share: 50%}], escalations: [15m]}",
            f"first_response: {{target: {target_minutes}m}}",
        )
    )
    arrived = T0 + arrival_minute * 60
    state = fold(contract_decision("gold", at=arrived), [], policy)
    breach = next(
        p
        for p in state.pending_alerts()
        if p.target is SlaTarget.FIRST_RESPONSE and p.kind is AlertKind.BREACH
    )
    assert (breach.rule, breach.contract, breach.target_seconds) == (
        "gold-email",
        "gold",
        target_minutes * 60,
    )
    office = policy.calendars["office"]
    counted, minute = 0, int(arrived)
    while counted < target_minutes:
        counted += brute_open(office, minute)
        minute += 60
    assert breach.fire_at == minute, "the breach falls at the end of the last open minute"
