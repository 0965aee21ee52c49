"""Policy files: every problem named by its YAML path and line; the calendar's own checks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from pydantic import BaseModel, ConfigDict, Field

from switchboard_calendars import (
    CalendarSpec,
    PolicyInvalid,
    calendar_problems,
    duplicate_ids,
    load_yaml_model,
    queue_problems,
    unknown,
)


class Team(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    calendar: str
    agents: int = Field(ge=0)


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    calendars: list[CalendarSpec]
    teams: list[Team]


def checks(policy: Policy) -> Iterator[str]:
    names = {c.id for c in policy.calendars}
    yield from duplicate_ids("teams", [t.id for t in policy.teams])
    yield from calendar_problems(policy.calendars)
    for i, team in enumerate(policy.teams):
        yield from unknown(f"teams[{i}].calendar", "calendar", team.calendar, names)


class TeamPolicyInvalid(PolicyInvalid):
    what = "team policy"


GOOD = """\
calendars:
  - id: office
    timezone: Europe/London
    weekly:
      mon: ["09:00-12:00", "13:00-17:00"]
teams:
  - id: a
    calendar: office
    agents: 3
"""


def problems(text: str) -> list[str]:
    with pytest.raises(TeamPolicyInvalid) as caught:
        load_yaml_model(text, Policy, checks, TeamPolicyInvalid)
    return caught.value.problems


def test_a_valid_file_gives_the_model() -> None:
    policy = load_yaml_model(GOOD.encode(), Policy, checks)
    assert policy.teams[0].agents == 3
    assert policy.calendars[0].weekly["mon"] == ["09:00-12:00", "13:00-17:00"]


def test_field_errors_name_path_line_and_value() -> None:
    found = problems(GOOD.replace("agents: 3", "agents: -1").replace("mon:", "monday:"))
    assert found == [
        "calendars[0].weekly.monday.[key] (line 5): Input should be 'mon', 'tue', 'wed', 'thu', 'fri', 'sat' or 'sun' (got 'monday')",
        "teams[0].agents (line 9): Input should be greater than or equal to 0 (got -1)",
    ]


def test_unknown_and_missing_fields() -> None:
    found = problems(GOOD.replace("    agents: 3", "    agentz: 3"))
    assert found == [
        "teams[0].agents (line 7): required field is missing",
        "teams[0].agentz (line 9): unknown field (check the spelling; see the policy reference in the README)",
    ]


def test_cross_checks_get_their_line_and_all_are_reported_at_once() -> None:
    text = GOOD + "  - id: a\n    calendar: night\n    agents: 1\n"
    assert problems(text) == [
        "teams[1].id (line 10): duplicate id 'a' (also teams[0])",
        "teams[1].calendar (line 11): unknown calendar 'night'; expected one of: office",
    ]


def test_the_message_names_the_policy_and_counts_the_problems() -> None:
    with pytest.raises(TeamPolicyInvalid, match=r"invalid team policy \(1 problem\(s\)\):\n  "):
        load_yaml_model(
            GOOD.replace("calendar: office", "calendar: x"), Policy, checks, TeamPolicyInvalid
        )


def test_yaml_syntax_and_shape() -> None:
    [syntax] = problems("teams: [a\ncalendars: {")
    assert syntax.startswith("line ")
    assert "not valid YAML" in syntax
    assert problems("- a") == ["(document): expected a mapping at the top, got list"]
    assert problems("") == ["(document): expected a mapping at the top, got nothing"]


@pytest.mark.parametrize(
    ("calendar", "expected"),
    [
        (
            {"weekly": {"mon": ["09:00-13:00", "12:00-17:00"]}},
            ["c.weekly.mon: hours overlap (09:00-13:00, 12:00-17:00)"],
        ),
        (
            {"weekly": {"mon": []}},
            ["c.weekly: give weekly hours, or set always_open: true for 24x7"],
        ),
        (
            {"always_open": True, "holidays": ["2026-12-25"]},
            ["c.always_open: a 24x7 calendar takes no weekly hours, holidays or overrides"],
        ),
        (
            {
                "weekly": {"mon": ["09:00-17:00"]},
                "overrides": [
                    {"date": "2026-12-24", "hours": ["09:00-12:00"]},
                    {"date": "2026-12-24", "hours": []},
                ],
            },
            ["c.overrides[1].date: 2026-12-24 is overridden twice (also overrides[0])"],
        ),
    ],
)
def test_calendar_problems(calendar: dict[str, object], expected: list[str]) -> None:
    assert CalendarSpec.model_validate({"id": "x"} | calendar).problems("c") == expected


@dataclass(frozen=True)
class Queue:
    id: str
    kind: str
    calendar: str = "office"
    vendor: str | None = None


def test_queue_problems() -> None:
    queues = [
        Queue("a", "in_house"),
        Queue("b", "outsourced", vendor="Acme"),
        Queue("c", "outsourced"),
        Queue("d", "in_house", vendor="Acme"),
        Queue("a", "in_house", calendar="night"),
    ]
    assert list(queue_problems(queues, {"office", "always"})) == [
        "queues[4].id: duplicate id 'a' (also queues[0])",
        "queues[2].vendor: an outsourced queue must name its vendor",
        "queues[3].vendor: an in-house queue has no vendor (or set kind: outsourced)",
        "queues[4].calendar: unknown calendar 'night'; expected one of: always, office",
    ]


def test_structural_errors_do_not_hide_the_cross_checks() -> None:
    """The cross-checks run on what is left, with the file's paths; nothing that only follows."""
    text = GOOD + (
        "  - id: b\n    agents: 1\n"  # no calendar: this team is set aside
        "  - id: c\n    calendar: night\n    agents: 1\n"
        "  - id: a\n    calendar: office\n    agents: 1\n"
    )
    text = text.replace("timezone: Europe/London", "timezone: Mars/Olympus")
    text = text.replace('"13:00-17:00"]', '"11:00-17:00"]')
    assert problems(text) == [
        "calendars[0].timezone (line 3): unknown time zone 'Mars/Olympus';"
        " expected an IANA name like 'Europe/London'",
        "teams[1].calendar (line 10): required field is missing",
        "teams[3].id (line 15): duplicate id 'a' (also teams[0])",
        "calendars[0].weekly.mon (line 5): hours overlap (09:00-12:00, 11:00-17:00)",
        "teams[2].calendar (line 13): unknown calendar 'night'; expected one of: office",
    ]
