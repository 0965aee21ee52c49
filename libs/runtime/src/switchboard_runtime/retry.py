"""Retrying what fails transiently (`runner.is_transient`), with capped backoff and jitter.

For the steps outside the batch runner's own loop: connecting to the broker and the
database at start-up, a background task's produce or query. Anything not transient is
raised at once: it would fail the same way again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from switchboard_runtime.errors import Stopped
from switchboard_runtime.runner import is_transient

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_ERROR_CHARS = 300


class Backoff:
    """Delays that double from `first_s` up to `max_s`, each jittered to 50-150 %."""

    def __init__(self, first_s: float = 0.1, max_s: float = 5.0) -> None:
        self._max = max_s
        self._next = first_s

    def next(self) -> float:
        delay = self._next * (0.5 + random.random())
        self._next = min(self._next * 2, self._max)
        return delay


def describe(what: str, exc: BaseException) -> str:
    """One line for logs and /readyz: what failed, the error's class and message."""
    return f"{what}: {type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]


async def until_done(
    what: str,
    attempt: Callable[[], Awaitable[T]],
    *,
    stop: asyncio.Event,
    report: Callable[[str | None], None] = lambda _: None,
    max_backoff_s: float = 5.0,
) -> T:
    """`attempt()` until it succeeds; raises `Stopped` if `stop` is set first.

    Each transient failure is logged and passed to `report` (the line /readyz shows);
    `report(None)` once it succeeds. An attempt in flight when `stop` is set is cancelled.
    """
    backoff = Backoff(max_s=max_backoff_s)
    while True:
        if stop.is_set():
            raise Stopped(f"stopped while waiting for {what}")
        task = asyncio.ensure_future(attempt())
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            raise Stopped(f"stopped while waiting for {what}")
        exc = task.exception()
        if exc is None:
            report(None)
            return task.result()
        if not is_transient(exc):
            raise exc
        delay = backoff.next()
        reason = describe(what, exc)
        report(reason)
        log.warning(
            "transient failure, retrying",
            extra={"stage": what, "error": reason, "retry_in_s": delay},
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
