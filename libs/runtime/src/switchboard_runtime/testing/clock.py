"""A clock that moves only when the test says so.

`sleep` blocks until the test has advanced the clock past the sleeper's deadline, and
`until_sleeping` is the synchronisation point tests need to prove that nothing happens:
once the loop under test sleeps, it has finished its round at the current time.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import UTC, datetime

DEFAULT_START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # a Monday morning, in business hours


class ManualClock:
    def __init__(self, start: datetime = DEFAULT_START) -> None:
        self._time = start.timestamp()
        self._monotonic = 1_000.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._changed = asyncio.Event()

    def time(self) -> float:
        return self._time

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._time, UTC)

    def monotonic(self) -> float:
        return self._monotonic

    def advance(self, seconds: float) -> None:
        """Move time forward and wake every sleeper now due."""
        if seconds < 0:
            raise ValueError(f"a clock does not go back ({seconds} s)")
        self._time += seconds
        self._monotonic += seconds
        while self._sleepers and self._sleepers[0][0] <= self._monotonic:
            _, _, waiter = heapq.heappop(self._sleepers)
            if not waiter.done():
                waiter.set_result(None)
        self._notify()

    def set(self, at: datetime) -> None:
        """Jump forward to `at`."""
        self.advance(at.timestamp() - self._time)

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        waiter = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._monotonic + seconds, next(self._order), waiter))
        self._notify()
        try:
            await waiter
        finally:
            # A cancelled sleeper (a stop) no longer counts as asleep.
            if not waiter.done():
                waiter.cancel()
            self._notify()

    @property
    def sleeping(self) -> int:
        return sum(1 for _, _, waiter in self._sleepers if not waiter.done())

    async def until_sleeping(self, n: int = 1, timeout: float = 10.0) -> None:
        """Wait (real time, with a deadline) until `n` tasks sleep on this clock."""
        try:
            async with asyncio.timeout(timeout):
                while self.sleeping < n:
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(
                f"{self.sleeping} of {n} expected tasks asleep on the clock after {timeout} s"
            ) from None
        # Let what the sleeper did just before it slept (a commit, a send) settle.
        await asyncio.sleep(0)

    def _notify(self) -> None:
        self._changed.set()
