"""Crash and shutdown of a real service process (the echo service on the runtime)."""

from __future__ import annotations

import asyncio
import json
import signal

import pytest
from runtime_fixtures import EchoSetup, ProcessFactory
from test_runner_integration import events

from switchboard_runtime.testing import eventually
from switchboard_runtime.testing.kafka import committed, publish, read_until

pytestmark = pytest.mark.integration


async def test_sigkill_mid_batch_then_restart_applies_every_effect_once(
    echo: EchoSetup, start_process: ProcessFactory
) -> None:
    total = 3000
    await publish(echo.kafka, echo.input, events(total))
    # A slow handler makes it likely that the kill lands inside a batch.
    first = start_process(ECHO_HANDLER_DELAY_S="0.3")

    async def some_done() -> bool:
        return len(await echo.effects()) >= 400

    await eventually(some_done, timeout=60, what="the first process to apply some effects")
    first.send_signal(signal.SIGKILL)
    first.wait()
    applied_before = len(await echo.effects())
    assert applied_before < total, "the kill should land before the work is done"

    second = start_process()
    every_id = {f"e{i}" for i in range(total)}
    await read_until(
        echo.kafka,
        echo.output,
        lambda out: {json.loads(m.value)["id"] for m in out} == every_id,
        timeout=90,
        what="an output for every input after the restart (copies allowed)",
    )
    assert await echo.effects() == {f"e{i}": i for i in range(total)}

    async def all_committed() -> bool:
        return sum((await committed(echo.kafka, echo.group, echo.input)).values()) == total

    await eventually(
        all_committed, timeout=30, what="all offsets to be committed after the restart"
    )
    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=15) == 0


async def test_sigterm_exits_cleanly_with_commits_matching_processed_work(
    echo: EchoSetup, start_process: ProcessFactory
) -> None:
    total = 2000
    await publish(echo.kafka, echo.input, events(total))
    proc = start_process(ECHO_HANDLER_DELAY_S="0.2")

    async def some_done() -> bool:
        return len(await echo.effects()) >= 200

    await eventually(some_done, timeout=60, what="some effects")
    proc.send_signal(signal.SIGTERM)
    # Seconds, not a consumer session timeout: the wait fails the test past its deadline.
    code = await asyncio.to_thread(proc.wait, 20)
    assert code == 0
    processed = len(await echo.effects())
    offsets = await committed(echo.kafka, echo.group, echo.input)
    assert sum(offsets.values()) == processed, (
        f"committed {sum(offsets.values())} offsets but applied {processed} effects"
    )
