"""The what-if replay on recorded traffic in PostgreSQL: the command and the admin route."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from router_stack import RouterSetup
from router_support import MONDAY_10_LONDON, policy_dict, policy_yaml
from sqlalchemy import text

from switchboard_events import LifecycleKind
from switchboard_events.testing import enriched, lifecycle

FROM, TO = "2025-03-03T09:00:00Z", "2025-03-03T11:00:00Z"


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


async def record_traffic(setup: RouterSetup) -> None:
    """Four billing calls decided by the router, three resolved 100 s after opening; the
    fourth overflowed to general (billing's estimated wait was above the target)."""
    events = [
        enriched(f"b{i}", contact_type="billing", at=MONDAY_10_LONDON - timedelta(seconds=1))
        for i in range(4)
    ]
    await setup.handle(setup.router(), events)
    closing = [lifecycle(f"b{i}", LifecycleKind.RESOLVED, MONDAY_10_LONDON) for i in range(3)]
    await setup.handle(setup.router(), closing)
    async with setup.engine.begin() as conn:
        # The router stamps a closing with the database's clock; put it 100 s after opening.
        await conn.execute(
            text(
                "UPDATE routing.contacts SET updated_at = opened_at + interval '100 seconds'"
                " WHERE status = 'resolved'"
            )
        )


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
