"""Breach reasons on the real parts: where the time went, in the alert and in the metric."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client import REGISTRY
from sla_fixtures import Rig

from switchboard_events.sla import WaitCause
from switchboard_events.testing import decided as decision
from switchboard_events.testing import lifecycle as step

pytestmark = pytest.mark.integration


def breaches(queue: str, cause: str) -> float:
    labels = {"target": "first_response", "queue": queue, "cause": cause}
    return REGISTRY.get_sample_value("switchboard_sla_breaches_by_cause_total", labels) or 0.0


async def test_a_breach_after_a_transfer_to_a_vendor_names_the_vendor_and_the_time(
    rig: Rig,
) -> None:
    # A call: first response 2 s of calendar time (sla_support policy); transferred at 0.5 s.
    t0 = rig.clock.now()
    before = breaches("vendor", "vendor")
    async with rig.running():
        await rig.send(
            decision("x", arrived_at=t0),
            step("x", "transferred", t0 + timedelta(seconds=0.5), to_queue_id="vendor"),
        )
        await rig.rows("SELECT count(*) FROM sla.lifecycle", 1)
        await rig.rows("SELECT count(*) FROM sla.due_alerts WHERE target = 'first_response'", 3)
        await rig.advance_to(t0 + timedelta(seconds=2.5))
        assert await rig.fired(2, where="contact_id = 'x'") == 2  # the warning and the breach
        sent = await rig.alerts()
    breach = next(a.data for a in sent if a.data.kind.value == "breach")
    assert (breach.queue_id, breach.cause) == ("vendor", WaitCause.VENDOR)
    assert [(w.queue_id, w.vendor, w.business_seconds) for w in breach.waited] == [
        ("general", None, 0.5),
        ("vendor", "acme-bpo", 1.5),
    ]
    assert (breach.wall_seconds, breach.paused_seconds) == (2.0, 0.0)
    assert breaches("vendor", "vendor") == before + 1
