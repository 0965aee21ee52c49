"""Hot reload of the SLA policy: validated, atomic, an invalid file refused and counted while
the old one stays; a change re-plans the open contacts (on the real broker and database).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest
from prometheus_client import REGISTRY
from sla_fixtures import Rig
from sla_support import short_policy_yaml

from sla_monitor.api import build_router
from sla_monitor.service import replan
from switchboard_events.testing import decided as decision
from switchboard_events.testing import lifecycle as step
from switchboard_runtime.testing import auth
from switchboard_runtime.web import create_app

pytestmark = pytest.mark.integration

P1_RESOLUTION = "resolution: {target: 4s"


def reloads(result: str) -> float:
    found = REGISTRY.get_sample_value("switchboard_sla_policy_reloads_total", {"result": result})
    return found or 0.0


def client_for(rig: Rig) -> httpx.AsyncClient:
    router = build_router(rig.policies, rig.sessions, [900], rig.clock)
    app = create_app("sla-monitor", {}, [router], auth=auth.authenticator())
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://sla.test", headers=auth.HEADERS)


async def test_an_invalid_policy_is_refused_counted_and_shown_while_the_old_one_stays(
    rig: Rig,
) -> None:
    holder = rig.policies
    before, refused, applied = holder.current, reloads("refused"), reloads("applied")
    broken = short_policy_yaml(rig.clock.now().date()).replace(
        "timezone: UTC", "timezone: Mars/Olympus"
    )
    broken = broken.replace("calendar: always}", "calendar: nowhere}", 1)
    rig.policy_file.write_text(broken)
    assert not holder.reload()
    assert holder.current is before, "the policy in force stays"
    assert holder.last_refusal is not None
    problems = holder.last_refusal.problems
    assert len(problems) == 2, f"every problem at once: {problems}"
    assert any("Mars/Olympus" in p for p in problems)
    assert any("nowhere" in p for p in problems)
    assert reloads("refused") == refused + 1
    assert not holder.reload()
    assert reloads("refused") == refused + 1, "the same refused file counts once"
    async with client_for(rig) as http:
        shown = (await http.get("/sla/policy")).json()
    assert shown["version"] == before.version
    assert shown["last_refused"]["problems"] == problems

    rig.policy_file.write_text(
        short_policy_yaml(rig.clock.now().date()).replace(P1_RESOLUTION, "resolution: {target: 9s")
    )
    assert holder.reload()
    assert holder.current.version != before.version
    assert holder.last_refusal is None
    assert reloads("applied") == applied + 1
    async with client_for(rig) as http:
        shown = (await http.get("/sla/policy")).json()
    assert (shown["version"], shown["last_refused"]) == (holder.current.version, None)


async def test_a_policy_change_replans_open_contacts_and_leaves_closed_ones(rig: Rig) -> None:
    # P1: resolution 4 s of calendar time, warning at 50 % (sla_support policy); then 10 s.
    t0 = rig.clock.now()

    def at(seconds: float) -> datetime:
        return t0 + timedelta(seconds=seconds)

    breach = (
        "SELECT due_at FROM sla.due_alerts"
        " WHERE contact_id = 'open' AND target = 'resolution' AND kind = 'breach'"
    )
    version = "SELECT policy_version FROM sla.contacts WHERE contact_id = '{}'"
    old = rig.policy.version
    async with rig.running():
        await rig.send(
            decision("open", arrived_at=t0, priority=900, priority_label="P1"),
            decision("done", arrived_at=t0, priority=900, priority_label="P1"),
            step("done", "resolved", at(0.5)),
        )
        await rig.rows("SELECT count(*) FROM sla.contacts WHERE status = 'resolved'", 1)
        await rig.rows(f"SELECT count(*) FROM ({breach}) b", 1)
        await rig.advance_to(at(1.5))
        assert await rig.scalar(breach) == at(4)

        longer = short_policy_yaml(rig.clock.now().date()).replace(
            P1_RESOLUTION, "resolution: {target: 10s"
        )
        rig.policy_file.write_text(longer)
        assert rig.policies.reload()
        new = rig.policy.version
        assert await replan(rig.sessions, rig.policy) == 1, "only the open contact"
        assert await rig.scalar(breach) == at(10), "its breach moves to the new target"
        assert await rig.scalar(version.format("open")) == new
        assert await rig.scalar(version.format("done")) == old, "a closed contact keeps its plan"
        assert await replan(rig.sessions, rig.policy) == 0, "nothing left to re-plan"

        await rig.advance_to(at(11))
        assert await rig.fired(2, where="target = 'resolution'") == 2
        sent = await rig.alerts()  # and first response: warning, breach, escalation
        assert len(sent) == 2 + 3
    resolution = sorted(
        (a.data.kind.value, a.time, a.data.target_seconds)
        for a in sent
        if a.data.target.value == "resolution"
    )
    assert resolution == [("breach", at(10), 10), ("warning", at(5), 10)]
    assert {a.data.contact_id for a in sent if a.data.target.value == "resolution"} == {"open"}
