"""Policy files: the shipped example is valid; each mistake gives an error naming its path."""

from __future__ import annotations

import re
from typing import Any

import pytest
from router_support import policy_dict, policy_yaml

from router import DEFAULT_POLICY
from router.domain.policy import PolicyInvalid, load_policy
from switchboard_runtime.policies import policy_version


def problems_of(data: dict[str, Any] | str) -> list[str]:
    content = data if isinstance(data, str) else policy_yaml(data)
    with pytest.raises(PolicyInvalid) as caught:
        load_policy(content)
    return caught.value.problems


def without_line(problem: str) -> str:
    """'queues[0].kind (line 19): ...' -> 'queues[0].kind: ...'."""
    return re.sub(r" \(line \d+\):", ":", problem, count=1)


def test_the_example_policy_is_valid() -> None:
    spec = load_policy(DEFAULT_POLICY.read_bytes())
    kinds = {q.kind.value for q in spec.queues}
    assert kinds == {"in_house", "outsourced"}
    assert {"general", "billing", "technical", "vip", "german", "social"} <= {
        q.id for q in spec.queues
    }


def test_version_is_a_hash_of_the_content() -> None:
    assert policy_version(b"a: 1") == policy_version(b"a: 1")
    assert policy_version(b"a: 1") != policy_version(b"a: 2")


def test_unknown_queue_in_a_rule_names_the_path_and_the_choices() -> None:
    data = policy_dict()
    data["rules"][3]["action"]["queue"] = "billing-x"
    [problem] = problems_of(data)
    assert re.match(
        r"rules\[3\]\.action\.queue \(line \d+\): unknown queue 'billing-x'; expected one of: ",
        problem,
    )
    assert "billing, general" in problem


def test_unknown_fallback_queue_open_and_label() -> None:
    data = policy_dict()
    data["rules"][0]["action"]["fallback"] = ["nowhere"]
    data["rules"][1]["match"]["queue_open"] = {"ghost": True}
    data["rules"][2]["match"]["priority_label"] = ["P9"]
    found = [without_line(p) for p in problems_of(data)]
    assert any(p.startswith("rules[0].action.fallback[0]: unknown queue 'nowhere'") for p in found)
    assert any(
        p.startswith("rules[1].match.queue_open.ghost: unknown queue 'ghost'") for p in found
    )
    assert any(p.startswith("rules[2].match.priority_label[0]: unknown label 'P9'") for p in found)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: d["queues"][0].update(calendar="night"),
            "queues[0].calendar: unknown calendar 'night'",
        ),
        (
            lambda d: d["queues"][5].pop("vendor"),
            "queues[5].vendor: an outsourced queue must name its vendor",
        ),
        (
            lambda d: d["queues"][0].update(vendor="x"),
            "queues[0].vendor: an in-house queue has no vendor",
        ),
        (
            lambda d: d["queues"][0].update(kind="inhouse"),
            "queues[0].kind: Input should be 'in_house' or 'outsourced'",
        ),
        (
            lambda d: d["queues"][0]["capacity"]["concurrency"].pop("chat"),
            "queues[0].capacity.concurrency: missing channel 'chat'",
        ),
        (
            lambda d: d["queues"][0]["capacity"].update(agents=-1),
            "queues[0].capacity.agents: Input should be greater than or equal to 0",
        ),
        (
            lambda d: d["queues"][1].update(id="general"),
            "queues[1].id: duplicate id 'general' (also queues[0])",
        ),
        (
            lambda d: d["calendars"][0].update(timezone="Europe/Londn"),
            "calendars[0].timezone: unknown time zone 'Europe/Londn'",
        ),
        (
            lambda d: d["calendars"][0]["weekly"].update(mon=["17:00-09:00"]),
            "calendars[0].weekly.mon[0]: hours '17:00-09:00' must end after they start",
        ),
        (
            lambda d: d["calendars"][0]["weekly"].update(mon=["9am-5pm"]),
            "calendars[0].weekly.mon[0]: expected hours like '08:30-12:00'",
        ),
        (
            lambda d: d["calendars"][0]["weekly"].update(monday=["09:00-17:00"]),
            "calendars[0].weekly.monday",
        ),
        (
            lambda d: d["calendars"][1].update(weekly={"mon": ["09:00-10:00"]}),
            "calendars[1].always_open: a 24x7 calendar takes no weekly hours",
        ),
        (
            lambda d: d["calendars"][0]["weekly"].update(tue=["09:00-13:00", "12:00-17:00"]),
            "calendars[0].weekly.tue: hours overlap (09:00-13:00, 12:00-17:00)",
        ),
        (lambda d: d.pop("default"), "default: required field is missing"),
        (
            lambda d: d["rules"][0].update(id="default"),
            "rules[0].id: 'default' is the name of the default route",
        ),
        (
            lambda d: d["rules"][0]["match"].update(tierz=["vip"]),
            "rules[0].match.tierz: unknown field",
        ),
        (
            lambda d: d["handle_time_seconds"].pop("social"),
            "handle_time_seconds: missing channel 'social'",
        ),
        (
            lambda d: d["sla"]["first_response_seconds"].pop("email"),
            "sla.first_response_seconds: missing channel 'email'",
        ),
        (lambda d: d["priority"]["bands"].pop(), "priority.bands: one band needs min: 0"),
        (
            lambda d: d["overflow"].update(queues=["general"]),
            "overflow.queues[0]: queue 'general' is in_house; overflow targets must be outsourced",
        ),
        (
            lambda d: d["never_outsource"].update(in_house_fallback="vendor"),
            "never_outsource.in_house_fallback: queue 'vendor' is outsourced",
        ),
        (
            lambda d: d["overflow"].update(max_occupancy=0),
            "overflow.max_occupancy: Input should be greater than 0",
        ),
    ],
)
def test_each_mistake_is_named_by_its_path(mutate: Any, expected: str) -> None:
    data = policy_dict()
    mutate(data)
    found = problems_of(data)
    assert any(without_line(p).startswith(expected) for p in found), found


def test_all_problems_are_reported_at_once() -> None:
    data = policy_dict()
    data["queues"][0]["calendar"] = "night"
    data["rules"][3]["action"]["queue"] = "billing-x"
    assert len(problems_of(data)) == 2


def test_yaml_syntax_errors_give_line_and_column() -> None:
    [problem] = problems_of("queues: [general\nrules: {")
    assert problem.startswith("line ")
    assert "not valid YAML" in problem


def test_a_document_that_is_not_a_mapping_is_refused() -> None:
    assert problems_of("- a\n- b") == ["(document): expected a mapping at the top, got list"]


def test_the_error_message_lists_every_problem() -> None:
    data = policy_dict()
    data["rules"][3]["action"]["queue"] = "billing-x"
    with pytest.raises(
        PolicyInvalid, match=r"rules\[3\]\.action\.queue \(line \d+\): unknown queue 'billing-x'"
    ):
        load_policy(policy_yaml(data))


def test_a_queue_set_aside_is_reported_once_and_the_other_checks_still_run() -> None:
    data = policy_dict()
    del data["queues"][1]["capacity"]
    data["queues"][3]["calendar"] = "nowhere"
    found = [without_line(p) for p in problems_of(data)]
    assert found == [
        "queues[1].capacity: required field is missing",
        "queues[3].calendar: unknown calendar 'nowhere'; expected one of: always, office",
    ], "rules that send contacts to billing are not reported: billing itself is"
