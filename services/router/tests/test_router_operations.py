"""Operating the policy: the CLI (check, explain) and the admin API (with the real database)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from router_stack import RouterSetup
from router_support import MONDAY_10_LONDON, policy_dict, policy_yaml

from router import DEFAULT_POLICY
from router.cli import COMMANDS
from router.config import SERVICE
from router.policies import RoutingPolicies
from router.wiring import build
from switchboard_events import encode
from switchboard_events.testing import enriched
from switchboard_runtime.cli import main as cli_main

SAMPLES = (
    Path(__file__).resolve().parents[3] / "libs/events/samples/switchboard.contact.enriched.v1"
)


def main(argv: list[str]) -> int:
    """`python -m router ARGV...`, in this process."""
    return cli_main(SERVICE, build, commands=COMMANDS, argv=argv)


def test_check_accepts_the_example_policy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(DEFAULT_POLICY)]) == 0
    assert "valid, version sha256:" in capsys.readouterr().out


def test_check_names_each_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = policy_dict()
    data["rules"][3]["action"]["queue"] = "billing-x"
    bad = tmp_path / "bad.yaml"
    bad.write_text(policy_yaml(data))
    assert main(["check", str(DEFAULT_POLICY), str(bad)]) == 1
    err = capsys.readouterr().err
    assert "rules[3].action.queue (line " in err
    assert "unknown queue 'billing-x'; expected one of:" in err


def four_mistakes() -> str:
    """A bad time zone, overlapping hours, a queue on an unknown calendar, a rule to an unknown queue."""
    data = policy_dict()
    data["calendars"][0]["timezone"] = "Europe/Londn"
    data["calendars"][0]["weekly"]["mon"] = ["09:00-13:00", "12:00-17:00"]
    data["queues"][1]["calendar"] = "nowhere"
    data["rules"][0]["action"]["queue"] = "ghost"
    return policy_yaml(data)


FOUR_PROBLEMS = [
    "calendars[0].timezone (line 3): unknown time zone 'Europe/Londn';"
    " expected an IANA name like 'Europe/London'",
    "calendars[0].weekly.mon (line 6): hours overlap (09:00-13:00, 12:00-17:00)",
    "queues[1].calendar (line 38): unknown calendar 'nowhere'; expected one of: always, office",
    "rules[0].action.queue (line 153): unknown queue 'ghost';"
    " expected one of: billing, general, german, social, vendor, vip",
]


def test_check_reports_every_mistake_of_a_file_at_once(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(four_mistakes())
    done = subprocess.run(
        [sys.executable, "-m", "router", "check", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert [line.strip() for line in done.stderr.splitlines()[1:]] == FOUR_PROBLEMS


def test_explain_shows_each_step(capsys: pytest.CaptureFixture[str]) -> None:
    event = SAMPLES / "known-by-phone.json"
    args = ["explain", "--event", str(event), "--at", "2025-03-08T10:00:00+00:00"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "rule vip: tier vip" in text
    assert "queue vip (in_house)" in text
    assert main([*args, "--json", "--load", "northwind-24x7:call=3"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["decision"]["customer_id"] == "cust-000042"
    assert result["steps"][0] == "rule vip: tier vip"


def test_explain_overflows_on_assumed_load(capsys: pytest.CaptureFixture[str]) -> None:
    event = SAMPLES / "ambiguous-shared-phone.json"
    args = ["explain", "--event", str(event), "--at", "2025-03-03T10:00:00Z", "--json"]
    assert main([*args, "--load", "general:chat=33"]) == 0
    decision = json.loads(capsys.readouterr().out)["decision"]
    assert decision["queue_kind"] == "outsourced"
    assert decision["overflow"]["from_queue"] == "general"
    assert main([*args, "--load", "general=3"]) == 2
    assert "expected QUEUE:CHANNEL=N" in capsys.readouterr().err


@pytest.mark.integration
async def test_admin_policy_and_check(client: httpx.AsyncClient, setup: RouterSetup) -> None:
    current = (await client.get("/admin/policy")).json()
    assert current["version"].startswith("sha256:")
    assert current["policy"]["default"]["queue"] == "general"
    ok = await client.post("/admin/policy/check", content=setup.policy_path.read_text())
    assert ok.json() == {"valid": True, "version": current["version"]}
    data = policy_dict()
    data["queues"][0]["calendar"] = "night"
    bad = await client.post("/admin/policy/check", content=policy_yaml(data))
    assert bad.status_code == 422
    assert bad.json()["problems"][0].startswith(
        "queues[0].calendar (line 24): unknown calendar 'night'"
    )


@pytest.mark.integration
async def test_a_refused_reload_lists_every_mistake(
    client: httpx.AsyncClient, setup: RouterSetup, policies: RoutingPolicies
) -> None:
    active = policies.current.version
    setup.policy_path.write_text(four_mistakes())
    assert not policies.reload()
    current = (await client.get("/admin/policy")).json()
    assert current["version"] == active
    assert current["last_refused"]["problems"] == FOUR_PROBLEMS


@pytest.mark.integration
async def test_admin_queues_explain_and_recent_decisions(
    client: httpx.AsyncClient, setup: RouterSetup
) -> None:
    await setup.handle(setup.router(), [enriched(f"c{i}") for i in range(3)])
    queues = {q["id"]: q for q in (await client.get("/admin/queues")).json()["queues"]}
    assert queues["general"]["open_contacts"] == {"call": 3}
    assert queues["general"]["estimated_wait_seconds"]["call"] == 0.0
    assert queues["vendor"]["kind"] == "outsourced"

    body = json.loads(encode(enriched("x", tier="vip")))
    explained = (await client.post("/admin/explain?at=2025-03-03T10:00:00Z", json=body)).json()
    assert explained["decision"]["queue_id"] == "vip"
    assert explained["steps"][0] == "rule vip: tier vip"
    invalid = await client.post("/admin/explain", json={"type": "switchboard.contact.enriched.v1"})
    assert invalid.status_code == 422
    naive = await client.post("/admin/explain?at=2025-03-03T10:00:00", json=body)
    assert naive.status_code == 422

    recent = (await client.get("/admin/contacts/c1/decisions")).json()
    assert [d["data"]["contact_id"] for d in recent["decisions"]] == ["c1"]
    assert (await client.get("/admin/contacts/nobody/decisions")).json()["decisions"] == []


@pytest.mark.integration
async def test_admin_staffing_sizes_each_queue_for_the_window_arrivals(
    client: httpx.AsyncClient, setup: RouterSetup
) -> None:
    arrived = MONDAY_10_LONDON - timedelta(minutes=10)
    await setup.handle(setup.router(), [enriched(f"c{i}", at=arrived) for i in range(3)])
    # A backlog decided now that arrived an hour ago is not traffic of the last half hour.
    backlog = MONDAY_10_LONDON - timedelta(hours=1)
    await setup.handle(setup.router(), [enriched(f"b{i}", at=backlog) for i in range(3)])
    view = (await client.get("/admin/staffing")).json()
    assert view["window_seconds"] == 1800
    queues = {q["queue"]: q for q in view["queues"]}
    assert set(queues) == {q["id"] for q in policy_dict()["queues"]}
    general = queues["general"]
    (call,) = [c for c in general["channels"] if c["channel"] == "call"]
    assert call["arrivals_per_h"] == 6  # three in the last half hour
    assert call["agents"] >= 1
    assert general["gap"] == general["needed"] - general["on_shift"]
    assert queues["vendor"]["needed"] == 0
