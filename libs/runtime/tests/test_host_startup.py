"""A service process started while the broker or the database is unreachable."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from pathlib import Path
from typing import Any

import pytest
from runtime_fixtures import EchoSetup, ProcessFactory
from sqlalchemy.engine import make_url
from test_runner_integration import events

from switchboard_runtime.testing import eventually
from switchboard_runtime.testing.kafka import publish, read_topic
from switchboard_runtime.testing.net import free_port, readiness, tcp_proxy

pytestmark = pytest.mark.integration


def retries_logged(log: Path, stage: str) -> int:
    count = 0
    for line in log.read_text().splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if entry.get("message") == "transient failure, retrying" and stage in entry["stage"]:
                count += 1
    return count


async def wait_not_ready_because(port: int, check: str, mentions: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def answered() -> bool:
        nonlocal seen
        result = await readiness(port)
        if result is None:
            return False
        status, seen = result
        problem = str(seen.get("problems", {}).get(check, ""))
        return status == 503 and mentions in problem

    await eventually(
        answered, timeout=60, what=f"/readyz to answer 503 naming the {check} ({mentions})"
    )
    return seen


async def test_a_service_started_without_a_broker_waits_not_ready_then_processes(
    echo: EchoSetup, start_process: ProcessFactory, tmp_path: Path
) -> None:
    broker_port, http_port = free_port(), free_port()
    bootstrap = f"127.0.0.1:{broker_port}"
    proc = start_process(ECHO_KAFKA__BOOTSTRAP=bootstrap, ECHO_HTTP_PORT=str(http_port))
    log = tmp_path / "echo-0.log"

    body = await wait_not_ready_because(http_port, "broker", bootstrap)
    assert body["status"] == "not ready"

    async def retried_twice() -> bool:
        return retries_logged(log, "broker") >= 2

    await eventually(retried_twice, timeout=90, what="the service to retry the broker twice")
    assert proc.poll() is None, "the service must keep waiting, not exit"
    assert (await readiness(http_port) or (0, {}))[0] == 503

    await publish(echo.kafka, echo.input, events(20))
    host, _, port = echo.kafka.bootstrap.rpartition(":")
    async with tcp_proxy(broker_port, host, int(port)):

        async def ready() -> bool:
            return (await readiness(http_port) or (0, {}))[0] == 200

        await eventually(
            ready, timeout=90, what="/readyz to answer 200 once the broker is reachable"
        )
        out = await read_topic(echo.kafka, echo.output, 20, timeout=60)
    assert len(out) == 20
    assert await echo.effects() == {f"e{i}": i for i in range(20)}
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(proc.wait, 20) == 0


async def test_a_service_started_without_a_database_waits_not_ready_then_processes(
    echo: EchoSetup, start_process: ProcessFactory, tmp_path: Path, database_url: str
) -> None:
    db_port, http_port = free_port(), free_port()
    real = make_url(database_url)
    unreachable = real.set(host="127.0.0.1", port=db_port)
    proc = start_process(
        ECHO_DATABASE_URL=unreachable.render_as_string(hide_password=False),
        ECHO_HTTP_PORT=str(http_port),
    )
    log = tmp_path / "echo-0.log"

    await wait_not_ready_because(http_port, "startup", "database")

    async def retried_twice() -> bool:
        return retries_logged(log, "database") >= 2

    await eventually(retried_twice, timeout=90, what="the service to retry the database twice")
    assert proc.poll() is None, "the service must keep waiting, not exit"

    await publish(echo.kafka, echo.input, events(20))
    async with tcp_proxy(db_port, real.host or "127.0.0.1", real.port or 5432):
        out = await read_topic(echo.kafka, echo.output, 20, timeout=90)
        assert len(out) == 20
        assert await echo.effects() == {f"e{i}": i for i in range(20)}

        async def ready() -> bool:
            return (await readiness(http_port) or (0, {}))[0] == 200

        await eventually(
            ready, timeout=60, what="/readyz to answer 200 once the database is reachable"
        )
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 20) == 0
