"""Waiting in tests: for what is expected, with a deadline, never for time to pass."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast, overload

T = TypeVar("T")
POLL_S = 0.05


@overload
async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, what: str, timeout: float = ...
) -> T: ...


@overload
async def eventually(probe: Callable[[], T | None], *, what: str, timeout: float = ...) -> T: ...


async def eventually(
    probe: Callable[[], Awaitable[T | None]] | Callable[[], T | None],
    *,
    what: str,
    timeout: float = 20.0,
) -> T:
    """Call `probe` until it returns something other than None or False; return that.

    Fails after `timeout` seconds (real time) with `what` and the last value seen, so a
    failing test says what it was waiting for.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        result = probe()
        value = await result if inspect.isawaitable(result) else result
        if value is not None and value is not False:
            return cast(T, value)
        last = value
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting after {timeout:.0f} s for {what} (last: {last!r})")
        await asyncio.sleep(POLL_S)  # polling interval, not a wait for time to pass
