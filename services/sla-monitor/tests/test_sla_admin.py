"""The admin API and the live service level, on the real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client import generate_latest
from sla_fixtures import Rig

from sla_monitor import live
from sla_monitor.api import build_router
from switchboard_events.testing import decided as decision
from switchboard_events.testing import lifecycle as step
from switchboard_runtime.testing import auth
from switchboard_runtime.web import create_app

pytestmark = pytest.mark.integration


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def client_for(rig: Rig) -> httpx.AsyncClient:
    router = build_router(rig.policies, rig.sessions, [900, 3600], rig.clock)
    app = create_app("sla-monitor", {}, [router], auth=auth.authenticator())
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://sla.test", headers=auth.HEADERS)


async def test_contact_status_service_level_and_gauges(rig: Rig) -> None:
    async with rig.running():
        arrived = rig.clock.now()
        await rig.send(
            decision("met", arrived_at=arrived),
            decision("late", arrived_at=arrived),
            decision("gone", arrived_at=arrived),
            step("met", "first_response", arrived + timedelta(seconds=0.5)),
            step("gone", "abandoned", arrived + timedelta(seconds=0.5)),
            step("early", "assigned", arrived),
        )
        await rig.rows("SELECT count(*) FROM sla.lifecycle", 3)
        await rig.rows("SELECT count(*) FROM sla.contacts WHERE decision_id IS NOT NULL", 3)
        await rig.advance_to(arrived + timedelta(seconds=3))
        assert await rig.fired(3) == 3
        # Read a moment later, as an operator would: past the escalation.
        await rig.advance_to(arrived + timedelta(seconds=3.5))
    async with client_for(rig) as http:
        late = (await http.get("/sla/contacts/late")).json()
        assert set(late) >= {"targets", "other_alerts"}
        assert "pending_alerts" not in late, "one list per target: fired or not, once"
        fr = next(t for t in late["targets"] if t["target"] == "first_response")
        assert fr["status"] == "running"
        assert not fr["paused"]
        assert fr["breached"]
        assert fr["elapsed_seconds"] > 3
        assert fr["remaining_seconds"] < -1
        assert fr["paused_seconds"] == 0
        assert at(fr["due_at"]) == arrived + timedelta(seconds=2)
        levels = [(a["kind"], a["state"], at(a["reached_at"])) for a in fr["alerts"]]
        assert levels == [
            ("warning", "fired", arrived + timedelta(seconds=1)),
            ("breach", "fired", arrived + timedelta(seconds=2)),
            ("escalation", "fired", arrived + timedelta(seconds=3)),
        ]
        assert all(
            a["published"] and at(a["fired_at"]) >= at(a["reached_at"]) for a in fr["alerts"]
        )
        assert late["other_alerts"] == []
        met = (await http.get("/sla/contacts/met")).json()
        fr = next(t for t in met["targets"] if t["target"] == "first_response")
        assert fr["status"] == "met"
        assert fr["elapsed_seconds"] == 0.5
        assert fr["remaining_seconds"] == 1.5
        assert {a["state"] for a in fr["alerts"]} == {"not_reached"}
        resolution = next(t for t in met["targets"] if t["target"] == "resolution")
        assert [a["state"] for a in resolution["alerts"]] == ["scheduled"]
        schemas = (await http.get("/openapi.json")).json()["components"]["schemas"]
        assert {"ContactSla", "TargetStatus", "AlertLevel"} <= set(schemas)
        early = await http.get("/sla/contacts/early")
        assert early.status_code == 404
        assert "1 lifecycle step(s) kept" in early.json()["detail"]

        shown = (await http.get("/sla/service-level")).json()
        row = next(r for r in shown["rows"] if r["window"] == "15m")
        assert (row["queue"], row["channel"]) == ("general", "call")
        assert (row["contacts"], row["met"], row["missed"], row["abandoned"]) == (3, 1, 1, 1)
        assert row["service_level"] == 0.5
        assert row["abandonment_rate"] == pytest.approx(1 / 3)
        assert row["first_response_avg_s"] == 0.5
        assert row["first_response_p90_s"] == 0.5
        assert row["open_contacts"] == 2
        assert row["breaches"] == 1
        assert row["oldest_waiting_s"] > 3
        assert {r["window"] for r in shown["rows"]} == {"15m", "1h"}

    live.export(await live.snapshot(rig.sessions, [900], rig.clock.now()))
    exposed = generate_latest().decode()
    assert (
        'switchboard_sla_service_level_ratio{channel="call",queue="general",window="15m"} 0.5'
        in exposed
    )
    assert 'switchboard_sla_open_contacts{channel="call",queue="general"} 2.0' in exposed


async def test_policy_check_and_explain(rig: Rig) -> None:
    async with client_for(rig) as http:
        policy = (await http.get("/sla/policy")).json()
        assert policy["version"] == rig.policy.version
        assert policy["name"] == "test-policy"

        valid = await http.post(
            "/sla/policy/check",
            content=rig.policy_file.read_bytes(),
            headers={"content-type": "application/yaml"},
        )
        assert valid.status_code == 200
        assert valid.json()["valid"]
        broken = rig.policy_file.read_text().replace(
            "target: 2s, clock: calendar", "target: soon, clock: calendar", 1
        )
        invalid = await http.post(
            "/sla/policy/check", content=broken, headers={"content-type": "application/yaml"}
        )
        assert invalid.status_code == 422
        assert invalid.json()["problems"][0].startswith("rules[0].first_response.target (line ")

        arrived = datetime(2026, 3, 2, 10, tzinfo=UTC)
        body = {
            "decision": decision("c", arrived_at=arrived, channel="email").model_dump(mode="json"),
            "lifecycle": [
                step("c", "waiting_on_customer", arrived + timedelta(seconds=1)).model_dump(
                    mode="json"
                )
            ],
            "at": (arrived + timedelta(minutes=5)).isoformat(),
        }
        told = (await http.post("/sla/explain", json=body)).json()
        fr = next(t for t in told["targets"] if t["target"] == "first_response")
        assert fr["rule"] == "email"
        assert fr["clock"] == "business"
        assert fr["calendar"] == "always"
        assert [lv["kind"] for lv in fr["levels"]] == ["warning", "breach"]
        now_fr = next(c for c in told["now"]["targets"] if c["target"] == "first_response")
        assert now_fr["paused"]
        assert now_fr["elapsed_seconds"] == 1.0

        bad = await http.post("/sla/explain", json={"decision": {"type": "nope"}})
        assert bad.status_code == 422
