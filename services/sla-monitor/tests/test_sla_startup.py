"""`python -m sla_monitor` started while the broker is unreachable: it waits, not ready."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest
from sla_fixtures import Rig

from sla_monitor.samples import decision
from switchboard_runtime.testing.net import free_port, readiness, tcp_proxy

pytestmark = pytest.mark.integration


async def wait_until(what: str, timeout: float, check: object) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


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

    await wait_until("/readyz to answer 503 naming the broker", 60, not_ready_naming_the_broker)

    async def retried() -> bool:
        return log.read_text().count("transient failure, retrying") >= 4

    await wait_until("both producers to retry the broker", 90, retried)
    assert proc.poll() is None, "sla-monitor must keep waiting for the broker, not exit"

    host, _, port = rig.kafka.bootstrap.rpartition(":")
    async with tcp_proxy(broker_port, host, int(port)):

        async def ready() -> bool:
            answer = await readiness(http_port)
            return answer is not None and answer[0] == 200

        await wait_until("/readyz to answer 200 once the broker is reachable", 90, ready)
        await rig.send(decision("late-start"))
        # The consumer applied the decision and the scheduler, started late, fires its alerts.
        assert await rig.fired(1, timeout=60, where="contact_id = 'late-start'") >= 1
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(proc.wait, 20) == 0
