"""The one clock every service reads the time from, so tests can move time themselves.

Code that asks what time it is, how long something took, or waits for a while takes a
`Clock`; production passes `SYSTEM_CLOCK`, tests a `testing.clock.ManualClock` whose
time moves only when the test advances it.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def time(self) -> float:
        """Wall-clock time, epoch seconds."""
        ...

    def now(self) -> datetime:
        """The same instant as `time()`, UTC-aware."""
        ...

    def monotonic(self) -> float:
        """Seconds for measuring intervals; never goes back."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def time(self) -> float:
        return time.time()

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


SYSTEM_CLOCK: Clock = SystemClock()


async def sleep_unless(clock: Clock, seconds: float, stop: asyncio.Event) -> None:
    """Sleep `seconds` on `clock`, or less if `stop` is set meanwhile."""
    if stop.is_set():
        return
    nap = asyncio.ensure_future(clock.sleep(seconds))
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({nap, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        nap.cancel()
        stopping.cancel()
