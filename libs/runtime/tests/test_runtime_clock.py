"""The manual clock tests move: sleepers wake when time is advanced past their deadline."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from switchboard_runtime.clock import sleep_unless
from switchboard_runtime.testing import ManualClock


async def test_a_sleeper_wakes_only_once_time_passes_its_deadline() -> None:
    clock = ManualClock(datetime(2025, 3, 3, 9, 0, tzinfo=UTC))
    nap = asyncio.ensure_future(clock.sleep(60))
    await clock.until_sleeping()
    clock.advance(59)
    await asyncio.sleep(0)
    assert not nap.done()
    clock.advance(1)
    await asyncio.wait_for(nap, 10)
    assert clock.now() == datetime(2025, 3, 3, 9, 1, tzinfo=UTC)
    assert clock.sleeping == 0


async def test_set_jumps_forward_and_never_back() -> None:
    clock = ManualClock()
    later = clock.now() + timedelta(hours=2)
    clock.set(later)
    assert clock.now() == later
    with pytest.raises(ValueError, match="does not go back"):
        clock.set(later - timedelta(seconds=1))


async def test_until_sleeping_fails_with_a_message_when_nobody_sleeps() -> None:
    with pytest.raises(AssertionError, match="0 of 1 expected tasks asleep"):
        await ManualClock().until_sleeping(timeout=0.2)


async def test_a_stop_cuts_a_sleep_short() -> None:
    clock = ManualClock()
    stop = asyncio.Event()
    nap = asyncio.ensure_future(sleep_unless(clock, 3600, stop))
    await clock.until_sleeping()
    stop.set()
    await asyncio.wait_for(nap, 10)
    assert clock.sleeping == 0
