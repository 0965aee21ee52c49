"""`python -m sla_monitor` started while the broker is unreachable: it waits, not ready."""

from __future__ import annotations

import asyncio
import signal

import pytest
from sla_fixtures import Rig

from switchboard_events.testing import decided as decision
from switchboard_runtime.clock import SYSTEM_CLOCK
from switchboard_runtime.testing import eventually
from switchboard_runtime.testing.net import free_port, readiness, tcp_proxy

pytestmark = pytest.mark.integration


async def test_started_without_a_broker_it_serves_not_ready_then_consumes_and_alerts(
    rig: Rig,
) -> None:
    broker_port, http_port = free_port(), free_port()
    bootstrap = f"127.0.0.1:{broker_port}"
    proc = rig.start_process(SLA_KAFKA__BOOTSTRAP=bootstrap, SLA_HTTP_PORT=str(http_port))
    log = rig.logs / "sla-0.log"

    async def not_ready_naming_the_broker() -> bool:
        answer = await readiness(http_port)
        return (
            answer is not None
            and answer[0] == 503
            and bootstrap in answer[1]["problems"].get("broker", "")
        )

    await eventually(
        not_ready_naming_the_broker, what="/readyz to answer 503 naming the broker", timeout=60
    )

    async def retried() -> bool:
        return log.read_text().count("transient failure, retrying") >= 4

    await eventually(retried, what="the producer to retry the broker", timeout=90)
    assert proc.poll() is None, "sla-monitor must keep waiting for the broker, not exit"

    host, _, port = rig.kafka.bootstrap.rpartition(":")
    async with tcp_proxy(broker_port, host, int(port)):

        async def ready() -> bool:
            answer = await readiness(http_port)
            return answer is not None and answer[0] == 200

        await eventually(
            ready, what="/readyz to answer 200 once the broker is reachable", timeout=90
        )
        # The process keeps real time: the call arrives now.
        await rig.send(decision("late-start", arrived_at=SYSTEM_CLOCK.now()))

        async def alerted() -> bool:
            return await rig.published("contact_id = 'late-start'") >= 1

        # The consumer applied the decision and the scheduler, started late, fires its alerts.
        await eventually(alerted, what="an alert for the late-started contact", timeout=60)
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(proc.wait, 20) == 0
