"""The SLA policy: the shipped example, target resolution, and clear errors for every mistake."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sla_support import policy_of

from sla_monitor.__main__ import main
from sla_monitor.config import DEFAULT_POLICY
from sla_monitor.domain.compiled import Facts
from sla_monitor.domain.durations import format_duration, parse_duration
from sla_monitor.domain.errors import PolicyInvalid
from switchboard_events import AlertKind, Channel, QueueKind, SlaTarget
from switchboard_events.testing import decided as decision
from switchboard_events.testing import lifecycle as step

BASE = """
calendars:
  - id: office
    timezone: Europe/London
    weekly: {mon: ["09:00-17:00"]}
  - id: always
    always_open: true
default_calendars: {in_house: office, outsourced: always}
default:
  first_response: {target: 1h}
  resolution: {target: 1d}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(PolicyInvalid) as caught:
        policy_of(text)
    return caught.value.problems


def test_the_shipped_policy_is_valid_and_found_without_configuration() -> None:
    assert DEFAULT_POLICY.is_file()
    policy = policy_of(DEFAULT_POLICY.read_bytes())
    call = policy.targets_for(Facts(Channel.CALL, "P3", None))
    assert call[SlaTarget.FIRST_RESPONSE].seconds == 20
    assert call[SlaTarget.FIRST_RESPONSE].basis == "calendar"
    email = policy.targets_for(Facts(Channel.EMAIL, "P2", None))
    assert email[SlaTarget.FIRST_RESPONSE].seconds == 4 * 3600
    assert email[SlaTarget.FIRST_RESPONSE].basis == "business"
    assert email[SlaTarget.RESOLUTION].rule == "resolution-p2"
    calendar, _ = policy.calendar_for("northwind-24x7", QueueKind.OUTSOURCED)
    assert calendar.always_open
    calendar, why = policy.calendar_for("brand-new-queue", QueueKind.IN_HOUSE)
    assert calendar.id == "london-business"
    assert "not listed" in why


def test_the_most_specific_rule_wins_per_target_and_ties_go_to_the_first() -> None:
    policy = policy_of(
        BASE
        + """
rules:
  - id: email
    match: {channel: email}
    first_response: {target: 4h}
    resolution: {target: 2d}
  - id: vip
    match: {tier: vip}
    first_response: {target: 2h}
  - id: vip-email
    match: {channel: email, tier: [vip, gold]}
    first_response: {target: 1h, warnings: [{share: 50%}, {before: 10m}], escalations: [30m]}
"""
    )
    vip_email = policy.targets_for(Facts(Channel.EMAIL, "P1", "vip"))
    assert vip_email[SlaTarget.FIRST_RESPONSE].rule == "vip-email"
    assert vip_email[SlaTarget.RESOLUTION].rule == "email", "each target from its own best rule"
    assert SlaTarget.NEXT_RESPONSE not in vip_email, "no rule and no default: no clock"
    levels = [
        (lv.kind, lv.number, lv.threshold) for lv in vip_email[SlaTarget.FIRST_RESPONSE].levels
    ]
    assert levels == [
        (AlertKind.WARNING, 1, 1800.0),
        (AlertKind.WARNING, 2, 3000.0),
        (AlertKind.BREACH, 1, 3600.0),
        (AlertKind.ESCALATION, 1, 5400.0),
    ]
    # email (1 condition) and vip (1 condition) tie for a VIP email of another tier: first wins.
    assert (
        policy.targets_for(Facts(Channel.EMAIL, "P1", None))[SlaTarget.FIRST_RESPONSE].rule
        == "email"
    )
    assert (
        policy.targets_for(Facts(Channel.CALL, "P1", "vip"))[SlaTarget.FIRST_RESPONSE].rule == "vip"
    )
    assert (
        policy.targets_for(Facts(Channel.CALL, "P1", None))[SlaTarget.FIRST_RESPONSE].rule
        == "default"
    )
    chosen = [
        c.rule
        for c in policy.candidates(SlaTarget.FIRST_RESPONSE, Facts(Channel.EMAIL, "P1", "vip"))
        if c.chosen
    ]
    assert chosen == ["vip-email"]


@pytest.mark.parametrize(
    ("mistake", "expected"),
    [
        (
            "rules: [{id: a, match: {channel: fax}, first_response: {target: 1h}}]",
            "rules[0].match.channel[0] (line 12): Input should be 'call', 'chat', 'email' or 'social' (got 'fax')",
        ),
        (
            "rules: [{id: a, match: {channel: call}, first_response: {target: soon}}]",
            "rules[0].first_response.target (line 12): expected a duration like '20s', '15m', '4h', '1h30m' or '2d', got 'soon'",
        ),
        (
            "rules: [{id: a, match: {channel: call}, first_response: {target: 0s}}]",
            "rules[0].first_response.target (line 12): Input should be greater than 0",
        ),
        (
            "rules: [{id: a, match: {channel: call}, first_response: {target: 1h, warnings: [{share: 150%}]}}]",
            "rules[0].first_response.warnings[0].share (line 12): Input should be less than 1",
        ),
        (
            "rules: [{id: a, match: {channel: call}, first_response: {target: 1h, warnings: [{share: 0.5, before: 5m}]}}]",
            "give exactly one of share",
        ),
        (
            "rules: [{id: a, match: {channel: call}, first_response: {target: 1h, warnings: [{before: 2h}]}}]",
            "a warning 2h before a 1h target would fire at or before the start",
        ),
        (
            "rules: [{id: a, match: {channel: call}, first_response: {target: 1h, escalations: [1h, 30m]}}]",
            "escalations must be strictly ascending times after the breach, got 1h, 30m",
        ),
        (
            "rules: [{id: a, match: {channel: call}, first_response: {target: 1h, clock: wall}}]",
            "rules[0].first_response.clock (line 12): Input should be 'business' or 'calendar'",
        ),
        (
            "rules: [{id: a, match: {channel: call}, first_respons: {target: 1h}}]",
            "rules[0].first_respons (line 12): unknown field",
        ),
        (
            "rules: [{id: a, match: {}, first_response: {target: 1h}}]",
            "rules[0].match (line 12): give at least one condition",
        ),
        ("rules: [{id: a, match: {channel: call}}]", "rules[0] (line 12): sets no target"),
        (
            "rules: [{id: a, match: {channel: []}, resolution: {target: 1h}}]",
            "an empty list matches nothing",
        ),
        (
            "rules: [{id: a, match: {channel: call}, first_response: {target: 1h}}, {id: b, match: {channel: [call]}, first_response: {target: 2h}}]",
            "rules[1].first_response (line 12): never used: rules[0] has the same conditions",
        ),
        (
            "rules: [{id: a, match: {channel: call}, resolution: {target: 1h}}, {id: a, match: {channel: chat}, resolution: {target: 1h}}]",
            "rules[1].id (line 12): duplicate id 'a' (also rules[0])",
        ),
        (
            "queues: [{id: q, kind: in_house, calendar: nowhere}]",
            "queues[0].calendar (line 12): unknown calendar 'nowhere'; expected one of: always, office",
        ),
        (
            "queues: [{id: q, kind: outsourced, calendar: always}]",
            "queues[0].vendor (line 12): an outsourced queue must name its vendor",
        ),
    ],
)
def test_each_mistake_gets_a_clear_error_naming_its_path(mistake: str, expected: str) -> None:
    found = problems(BASE + mistake)
    assert any(expected in p for p in found), found


@pytest.mark.parametrize(
    ("calendar", "expected"),
    [
        (
            "{id: x, timezone: Europe/Londn, weekly: {mon: ['09:00-17:00']}}",
            "unknown time zone 'Europe/Londn'",
        ),
        ("{id: x, weekly: {mon: ['9-5']}}", "expected hours like '08:30-12:00'"),
        ("{id: x, weekly: {mon: ['17:00-09:00']}}", "must end after they start"),
        (
            "{id: x, weekly: {mon: ['09:00-12:00', '11:00-13:00']}}",
            "calendars[2].weekly.mon (line 8): hours overlap",
        ),
        (
            "{id: x, weekly: {}}",
            "calendars[2].weekly (line 8): give weekly hours, or set always_open: true",
        ),
        (
            "{id: x, always_open: true, holidays: [2026-12-25]}",
            "a 24x7 calendar takes no weekly hours",
        ),
        ("{id: x, weekly: {funday: ['09:00-10:00']}}", "calendars[2].weekly.funday"),
        ("{id: office, always_open: true}", "calendars[2].id (line 8): duplicate id 'office'"),
    ],
)
def test_calendar_mistakes(calendar: str, expected: str) -> None:
    text = BASE.replace("default_calendars:", f"  - {calendar}\ndefault_calendars:")
    found = problems(text)
    assert any(expected in p for p in found), found


def test_structural_mistakes() -> None:
    assert problems("calendars: [oops")[0].startswith("line 1, column")
    assert problems("- a\n- b\n") == ["(document): expected a mapping at the top, got list"]
    missing = problems(BASE.replace("  resolution: {target: 1d}\n", ""))
    assert missing == [
        "default.resolution (line 10): required: the default must set first_response and resolution"
    ]
    unknown = problems(BASE.replace("outsourced: always", "outsourced: elsewhere"))
    assert any(p.startswith("default_calendars.outsourced (line") for p in unknown)


def test_durations_round_trip() -> None:
    assert [parse_duration(v) for v in ("20s", "15m", "4h", "1h30m", "2d", 90, "90")] == [
        20,
        900,
        14400,
        5400,
        172800,
        90,
        90,
    ]
    assert format_duration(5400) == "1h30m"
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration("1 hour")


def test_check_and_explain_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(DEFAULT_POLICY)]) == 0
    assert "valid: hybrid-uk-sla sha256:" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(BASE.replace("target: 1h", "target: later"))
    assert main(["check", str(bad)]) == 1
    assert "default.first_response.target (line 10)" in capsys.readouterr().out

    event = decision("c1", channel="email", tier="vip", priority_label="P1")
    (tmp_path / "decision.json").write_text(event.model_dump_json())
    (tmp_path / "steps.jsonl").write_text(
        step("c1", "waiting_on_customer").model_dump_json() + "\n"
    )
    args = [
        "explain",
        "--decision",
        str(tmp_path / "decision.json"),
        "--lifecycle",
        str(tmp_path / "steps.jsonl"),
    ]
    assert main([*args, "--policy", str(DEFAULT_POLICY)]) == 0
    text = capsys.readouterr().out
    assert "first_response: 1h of business time, set by rule vip-email" in text
    assert "-> vip-email (channel in [email] and tier in [vip]; 2 condition(s))" in text
    assert "(paused)" in text


def test_check_reports_every_mistake_of_a_file_at_once(tmp_path: Path) -> None:
    """Structural errors first, then every cross-reference, in one run of the command."""
    text = (
        BASE.replace("timezone: Europe/London", "timezone: Europe/Londn")
        .replace('["09:00-17:00"]', '["09:00-13:00", "12:00-17:00"]')
        .replace("outsourced: always", "outsourced: elsewhere")
        + "queues: [{id: q, kind: in_house, calendar: nowhere}]\n"
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    done = subprocess.run(
        [sys.executable, "-m", "sla_monitor", "check", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert [line.strip() for line in done.stdout.splitlines()[1:]] == [
        "calendars[0].timezone (line 4): unknown time zone 'Europe/Londn';"
        " expected an IANA name like 'Europe/London'",
        "calendars[0].weekly.mon (line 5): hours overlap (09:00-13:00, 12:00-17:00)",
        "queues[0].calendar (line 12): unknown calendar 'nowhere'; expected one of: always, office",
        "default_calendars.outsourced (line 8): unknown calendar 'elsewhere';"
        " expected one of: always, office",
    ]
