"""The what-if replay on recorded traffic in PostgreSQL: the command and the admin route."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from router_stack import RouterSetup
from router_support import MONDAY_10_LONDON, policy_dict, policy_yaml
from sqlalchemy import text

from router.policies import holder
from router.service import Router
from router.whatif import recorded_contacts
from router.wiring import build_router
from switchboard_events import LifecycleKind
from switchboard_events.testing import enriched, lifecycle
from switchboard_runtime.testing import ManualClock

FROM, TO = "2025-03-03T09:00:00Z", "2025-03-03T11:00:00Z"
PERIOD = (datetime.fromisoformat(FROM), datetime.fromisoformat(TO))
DAY = timedelta(days=1)


def candidate() -> str:
    """Billing contacts go to general: the billing rule is gone."""
    data = policy_dict()
    data["rules"] = [r for r in data["rules"] if r["id"] != "billing"]
    return policy_yaml(data)


async def run_router(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python -m router ARGV...` as a process, off the test's event loop."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "router", *argv],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


ARRIVED = MONDAY_10_LONDON - timedelta(seconds=1)


def late_router(setup: RouterSetup) -> Router:
    """A router reading a backlog a day after it happened (the database's clock is later
    still: it stamps `updated_at` at today's wall time)."""
    return build_router(setup.settings, holder(setup.policy_path), ManualClock(ARRIVED + DAY))


async def record_traffic(setup: RouterSetup) -> None:
    """Four billing calls decided by the router, three resolved 100 s after arriving, the
    closings consumed a day late; the fourth overflowed to general (billing's estimated
    wait was above the target)."""
    events = [enriched(f"b{i}", contact_type="billing", at=ARRIVED) for i in range(4)]
    await setup.handle(setup.router(), events)
    resolved = ARRIVED + timedelta(seconds=100)
    closing = [lifecycle(f"b{i}", LifecycleKind.RESOLVED, resolved) for i in range(3)]
    await setup.handle(late_router(setup), closing)


@pytest.mark.integration
async def test_handle_times_are_event_times_however_late_the_closing_was_read(
    setup: RouterSetup,
) -> None:
    events = [enriched(f"c{i}", at=ARRIVED) for i in range(6)]
    await setup.handle(setup.router(), events)
    at = ARRIVED + timedelta(seconds=1)
    steps = [
        lifecycle("c0", LifecycleKind.RESOLVED, at + timedelta(seconds=99)),
        lifecycle("c1", LifecycleKind.ABANDONED, at + timedelta(seconds=29)),
        # Closed, then reopened in the same batch: open again, no closing time.
        lifecycle("c2", LifecycleKind.RESOLVED, at),
        lifecycle("c2", LifecycleKind.REOPENED, at + timedelta(seconds=5)),
        lifecycle("c3", LifecycleKind.RESOLVED, at + timedelta(seconds=49)),
        # A desktop clock behind the connector's: "closed" before it arrived, unknown.
        lifecycle("c5", LifecycleKind.RESOLVED, ARRIVED - timedelta(seconds=10)),
    ]
    await setup.handle(late_router(setup), steps)
    # A move of a closed contact keeps its closing time.
    await setup.handle(late_router(setup), [lifecycle("c3", LifecycleKind.TRANSFERRED, at + DAY)])
    async with setup.engine.begin() as conn:
        # A row closed before the router recorded closing times (revision 0012).
        await conn.execute(
            text("UPDATE routing.contacts SET status = 'resolved' WHERE contact_id = 'c4'")
        )
    async with setup.sessions() as session:
        contacts = await recorded_contacts(session, *PERIOD, 100)
    durations = {c.contact_id: (c.status, c.duration_s) for c in contacts}
    assert durations == {
        "c0": ("resolved", 100.0),
        "c1": ("abandoned", 30.0),
        "c2": ("open", None),
        "c3": ("resolved", 50.0),
        "c4": ("resolved", None),
        "c5": ("resolved", None),
    }


@pytest.mark.integration
async def test_the_period_holds_the_contacts_that_arrived_in_it_however_late_decided(
    setup: RouterSetup,
) -> None:
    # The period's backlog decided a day late, the later arrival decided first.
    await setup.handle(late_router(setup), [enriched("late-2", at=ARRIVED + timedelta(seconds=60))])
    later = build_router(
        setup.settings,
        holder(setup.policy_path),
        ManualClock(ARRIVED + DAY + timedelta(seconds=10)),
    )
    await setup.handle(later, [enriched("late-1", at=ARRIVED)])
    # Decided in the period, but arrived the day before: the previous day's backlog.
    await setup.handle(setup.router(), [enriched("yesterday", at=ARRIVED - DAY)])
    await setup.handle(setup.router(), [enriched("on-time", at=ARRIVED + timedelta(seconds=30))])
    async with setup.sessions() as session:
        contacts = await recorded_contacts(session, *PERIOD, 100)
    assert [(c.contact_id, c.arrived_at) for c in contacts] == [
        ("late-1", ARRIVED),
        ("on-time", ARRIVED + timedelta(seconds=30)),
        ("late-2", ARRIVED + timedelta(seconds=60)),
    ]


@pytest.mark.integration
async def test_the_command_replays_the_period_into_a_table_json_and_html(
    setup: RouterSetup, tmp_path: Path
) -> None:
    await record_traffic(setup)
    policy = tmp_path / "candidate.yaml"
    policy.write_text(candidate())
    html, out = tmp_path / "report.html", tmp_path / "report.json"
    argv = ["whatif", "--policy", str(policy), "--from", FROM, "--to", TO, "--seed", "3"]
    env = dict(os.environ) | {
        "ROUTER_DATABASE_URL": setup.settings.database_url.get_secret_value(),
        "ROUTER_POLICY_PATH": str(setup.policy_path),
    }
    done = await run_router([*argv, "--html", str(html), "--json", str(out)], env)
    assert done.returncode == 0, done.stderr
    assert "moved: 3 of 4 contacts" in done.stdout, done.stdout
    assert "replaying [" in done.stderr
    report = json.loads(out.read_text())
    assert report["moves"] == [
        {"from": "billing", "to": "general", "why": "rule default", "contacts": 3}
    ]
    assert report["handle_times"]["before"] == {"own_record": 3, "queue_records": 0, "policy": 1}
    assert html.read_text().startswith("<!doctype html>")

    again = await run_router([*argv, "--html", str(html), "--json", "-"], env)
    assert json.loads(again.stdout) == report  # same seed, same inputs

    bounded = await run_router([*argv, "--html", str(html), "--max-contacts", "3"], env)
    assert bounded.returncode == 2
    assert "holds more than 3 contacts: choose a shorter period" in bounded.stderr


def test_the_command_refuses_a_reversed_period(tmp_path: Path) -> None:
    policy = tmp_path / "candidate.yaml"
    policy.write_text(candidate())
    reversed_period = ["--from", TO, "--to", FROM]
    done = subprocess.run(
        [sys.executable, "-m", "router", "whatif", "--policy", str(policy), *reversed_period],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "the period must end after it starts" in done.stderr


@pytest.mark.integration
async def test_the_admin_route_returns_the_report_and_changes_nothing(
    client: httpx.AsyncClient, setup: RouterSetup
) -> None:
    await record_traffic(setup)
    rows = "SELECT count(*), count(*) FILTER (WHERE status = 'open') FROM routing.contacts"
    async with setup.engine.connect() as conn:
        state = (await conn.execute(text(rows))).one()
    body = {"policy": candidate(), "from": FROM, "to": TO, "seed": 3}
    answer = await client.post("/admin/whatif", json=body)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["total"]["after"]["contacts"] == 4
    assert report["moves"][0]["to"] == "general"
    async with setup.engine.connect() as conn:
        assert (await conn.execute(text(rows))).one() == state

    too_long = body | {"to": "2025-05-01T00:00:00Z"}
    assert (await client.post("/admin/whatif", json=too_long)).status_code == 422
    bad = await client.post("/admin/whatif", json=body | {"policy": "queues: 3"})
    assert bad.status_code == 422
    assert bad.json()["detail"]["problems"]
