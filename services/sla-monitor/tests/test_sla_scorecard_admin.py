"""The scorecard on the real broker and database: what the runner writes, the admin route
(JSON and CSV), the gauges' refresher, and the re-plan after a policy change."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import timedelta

import httpx
import pytest
from prometheus_client import generate_latest
from sla_fixtures import Rig
from sla_support import short_policy_yaml

from sla_monitor import scorecard
from sla_monitor.api import scorecard_router
from sla_monitor.service import replan
from switchboard_events.testing import decided as decision
from switchboard_events.testing import lifecycle as step
from switchboard_runtime.testing import auth
from switchboard_runtime.web import create_app

pytestmark = pytest.mark.integration

FCR_WINDOW_S = 60.0
CALL_FIRST_RESPONSE = "first_response: {target: 2s"


def client_for(rig: Rig) -> httpx.AsyncClient:
    router = scorecard_router(rig.sessions, FCR_WINDOW_S, rig.clock)
    app = create_app("sla-monitor", {}, [router], auth=auth.authenticator())
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://sla.test", headers=auth.HEADERS)


async def test_the_scorecard_per_kind_and_vendor_as_json_csv_and_gauges(rig: Rig) -> None:
    t0 = rig.clock.now()
    vendor = {"queue_id": "vendor", "queue_kind": "outsourced", "cost_per_contact": 3.0}
    async with rig.running():
        await rig.send(
            decision("a", arrived_at=t0, customer_key="k1", cost_per_contact=6.5),
            decision("late", arrived_at=t0, cost_per_contact=6.5),
            decision("gone", arrived_at=t0, cost_per_contact=6.5),
            decision("b", arrived_at=t0, customer_key="k2", **vendor),  # type: ignore[arg-type]
            step("a", "first_response", t0 + timedelta(seconds=0.5)),
            step("a", "resolved", t0 + timedelta(seconds=1)),
            step("a", "csat_recorded", t0 + timedelta(seconds=1.5), csat_score=5),
            step("b", "first_response", t0 + timedelta(seconds=1)),
            step("b", "resolved", t0 + timedelta(seconds=2)),
            step("b", "csat_recorded", t0 + timedelta(seconds=2), csat_score=3),
            step("gone", "abandoned", t0 + timedelta(seconds=0.5)),
        )
        await rig.rows("SELECT count(*) FROM sla.scorecard WHERE csat IS NOT NULL", 2)
        await rig.rows("SELECT count(*) FROM sla.scorecard WHERE abandoned", 1)
        await rig.advance_to(t0 + timedelta(seconds=3))
        await rig.fired(1, where="kind = 'breach' AND contact_id = 'late'")
        # k2 comes back within the window, to the in-house queue: b was not resolved at first
        back = t0 + timedelta(seconds=30)
        await rig.send(
            decision("b2", arrived_at=back, customer_key="k2"),
            step("b2", "first_response", back + timedelta(seconds=0.5)),
        )
        await rig.rows("SELECT count(*) FROM sla.scorecard WHERE first_response_s IS NOT NULL", 3)
        await rig.advance_to(t0 + timedelta(seconds=90))

    window = {
        "from": (t0 - timedelta(hours=1)).isoformat(),
        "to": (t0 + timedelta(hours=1)).isoformat(),
    }
    async with client_for(rig) as http:
        got = await http.get("/sla/scorecard", params=window | {"group_by": "queue_kind,vendor"})
        assert got.status_code == 200, got.text
        body = got.json()
        assert body["group_by"] == ["queue_kind", "vendor"]
        assert body["next_offset"] is None
        in_house, outsourced = body["rows"]
        assert (in_house["queue_kind"], in_house["vendor"]) == ("in_house", "")
        assert in_house["contacts"] == 4
        assert in_house["cost"] == 19.5, "b2 came without a cost"
        assert in_house["cost_per_contact"] == 6.5
        assert (in_house["first_response_avg_s"], in_house["resolution_avg_s"]) == (0.5, 1.0)
        assert (in_house["csat_avg"], in_house["csat_responses"]) == (5.0, 1)
        assert (in_house["fcr_yes"], in_house["fcr_no"], in_house["fcr_rate"]) == (1, 0, 1.0)
        assert in_house["abandoned"] == 1
        assert in_house["breached"] == 1
        assert in_house["sla_attainment"] == 0.75
        assert (outsourced["queue_kind"], outsourced["vendor"]) == ("outsourced", "acme-bpo")
        assert (outsourced["cost_per_contact"], outsourced["csat_avg"]) == (3.0, 3.0)
        assert (outsourced["fcr_yes"], outsourced["fcr_no"], outsourced["fcr_rate"]) == (0, 1, 0.0)

        paged = (await http.get("/sla/scorecard", params=window | {"limit": 1})).json()
        assert len(paged["rows"]) == 1
        assert paged["next_offset"] == 1
        assert paged["group_by"] == ["queue", "channel", "day"]

        exported = await http.get("/sla/scorecard", params=window | {"format": "csv"})
        assert exported.headers["content-type"].startswith("text/csv")
        lines = list(csv.DictReader(io.StringIO(exported.text)))
        assert [(r["queue"], r["channel"], r["day"], r["contacts"]) for r in lines] == [
            ("general", "call", t0.date().isoformat(), "4"),
            ("vendor", "call", t0.date().isoformat(), "1"),
        ]
        assert lines[1]["fcr_rate"] == "0.0"
        assert lines[1]["fcr_pending"] == "0"

        for params, problem in (
            ({"group_by": "queue,customer"}, "group_by"),
            ({"group_by": "queue,queue"}, "group_by"),
            ({"from": "2025-03-03T09:00:00"}, "UTC offset"),
            ({"from": window["to"], "to": window["from"]}, "before to"),
        ):
            refused = await http.get("/sla/scorecard", params=params)
            assert refused.status_code == 422, params
            assert problem in refused.json()["detail"], refused.text

    stop = asyncio.Event()
    refresh = scorecard.refresher(rig.sessions, [3600], FCR_WINDOW_S, 30, rig.clock)
    task = asyncio.create_task(refresh(stop))
    await rig.clock.until_sleeping()
    exposed = generate_latest().decode()
    labels = 'channel="call",queue="vendor",queue_kind="outsourced",vendor="acme-bpo",window="1h"'
    assert f"switchboard_sla_scorecard_cost_per_contact{{{labels}}} 3.0" in exposed
    assert f"switchboard_sla_scorecard_first_contact_resolution_ratio{{{labels}}} 0.0" in exposed
    assert f"switchboard_sla_scorecard_csat_avg{{{labels}}} 3.0" in exposed
    stop.set()
    rig.clock.advance(30)
    await task


async def test_a_policy_change_rescores_the_open_contacts(rig: Rig) -> None:
    t0 = rig.clock.now()
    outcome = "SELECT fr_outcome FROM sla.scorecard WHERE contact_id = 'open'"
    async with rig.running():
        await rig.send(
            decision("open", arrived_at=t0),
            step("open", "first_response", t0 + timedelta(seconds=1.5)),
        )
        await rig.rows("SELECT count(*) FROM sla.scorecard WHERE fr_outcome = 'met'", 1)
    stricter = short_policy_yaml(t0.date()).replace(
        CALL_FIRST_RESPONSE, "first_response: {target: 1s"
    )
    rig.policy_file.write_text(stricter)
    assert rig.policies.reload()
    assert await replan(rig.sessions, rig.policy) == 1
    assert await rig.scalar(outcome) == "missed"
