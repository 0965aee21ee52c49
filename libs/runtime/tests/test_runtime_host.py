"""The host supervises the runner and the background tasks as one process."""

from __future__ import annotations

import asyncio
import gc
from typing import Any, cast

import pytest

from switchboard_runtime.host import GC_THRESHOLDS, TaskEnded, _run, settle_collector
from switchboard_runtime.runner import BatchRunner


class FakeRunner:
    """Consumes until stopped; records the order of events."""

    def __init__(self, log: list[str], fail: BaseException | None = None) -> None:
        self._stop = asyncio.Event()
        self._log = log
        self._fail = fail

    async def run(self) -> None:
        if self._fail is not None:
            raise self._fail
        await self._stop.wait()
        self._log.append("runner stopped")

    def stop(self) -> None:
        self._stop.set()


def as_runner(fake: FakeRunner) -> BatchRunner[Any]:
    return cast(BatchRunner[Any], fake)


def until_stopped(name: str, log: list[str]) -> Any:
    async def task(stop: asyncio.Event) -> None:
        await stop.wait()
        log.append(f"{name} stopped")

    return task


async def test_a_signal_stops_the_runner_first_then_every_task() -> None:
    log: list[str] = []
    stopping = asyncio.Event()
    running = asyncio.ensure_future(
        _run(
            as_runner(FakeRunner(log)),
            {"scheduler": until_stopped("scheduler", log), "live": until_stopped("live", log)},
            stopping,
        )
    )
    await asyncio.sleep(0)
    stopping.set()
    await asyncio.wait_for(running, 10)
    assert log[0] == "runner stopped"
    assert sorted(log[1:]) == ["live stopped", "scheduler stopped"]


async def test_a_failing_task_stops_the_others_and_is_raised() -> None:
    log: list[str] = []

    async def broken(stop: asyncio.Event) -> None:
        raise RuntimeError("scheduler crashed")

    with pytest.raises(RuntimeError, match="scheduler crashed"):
        await asyncio.wait_for(
            _run(
                as_runner(FakeRunner(log)),
                {"scheduler": broken, "live": until_stopped("live", log)},
                asyncio.Event(),
            ),
            10,
        )
    assert log == ["runner stopped", "live stopped"]


async def test_a_task_that_returns_on_its_own_is_a_failure() -> None:
    log: list[str] = []

    async def quits(stop: asyncio.Event) -> None:
        return None

    with pytest.raises(TaskEnded, match="policy-reload ended on its own"):
        await asyncio.wait_for(
            _run(as_runner(FakeRunner(log)), {"policy-reload": quits}, asyncio.Event()), 10
        )
    assert log == ["runner stopped"]


async def test_a_failing_runner_stops_the_tasks_and_is_raised() -> None:
    log: list[str] = []
    with pytest.raises(KeyError):
        await asyncio.wait_for(
            _run(
                as_runner(FakeRunner(log, fail=KeyError("queue"))),
                {"live": until_stopped("live", log)},
                asyncio.Event(),
            ),
            10,
        )
    assert log == ["live stopped"]


def test_settling_freezes_what_start_up_made_and_collects_young_objects_less_often() -> None:
    before = gc.get_threshold()
    try:
        settle_collector()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == GC_THRESHOLDS
        assert GC_THRESHOLDS[0] > before[0]
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
