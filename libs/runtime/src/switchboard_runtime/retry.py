"""The one retry policy: what heals by itself, and how long to wait before trying again.

The batch runner, start-up, background tasks and repositories all retry through this
module, so the backoff and the judgement of what is transient live in one place.
Anything not transient is raised at once: it would fail the same way again.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import random
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from aiokafka.errors import KafkaError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from switchboard_runtime.clock import SYSTEM_CLOCK, Clock, sleep_unless
from switchboard_runtime.errors import Stopped

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_ERROR_CHARS = 300

# Serialization failure, deadlock, and the server shutting down or starting up:
# retrying the whole transaction is the documented answer to each.
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "57P01", "57P02", "57P03"})
# Connection exceptions (08) and insufficient resources (53: too many connections...).
TRANSIENT_SQLSTATE_CLASSES = ("08", "53")
_TRANSIENT_ERRNOS = frozenset(
    {
        errno.ENETUNREACH,
        errno.EHOSTUNREACH,
        errno.ENETDOWN,
        errno.EHOSTDOWN,
        errno.EADDRNOTAVAIL,
        errno.ETIMEDOUT,
    }
)
# asyncpg's "the connection went away" family, raised without a SQLSTATE.
_LOST_CONNECTION = ("ConnectionDoesNotExistError", "InterfaceError", "CannotConnectNowError")
# Kafka errors that mean "no broker (or leader) to talk to right now": they come back.
TRANSIENT_KAFKA_ERRORS = (
    "KafkaConnection",
    "KafkaTimeout",
    "RequestTimedOut",
    "NodeNotReady",
    "KafkaUnavailable",
    "BrokerNotAvailable",
    "ReplicaNotAvailable",
)


def is_transient(exc: BaseException) -> bool:
    """Failures that heal by themselves: an unreachable database or broker, a lost race.

    A missing file, a refused permission or a bad argument is not among them, however
    the library wraps it: retrying would loop forever.
    """
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    sqlstate = str(getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None) or "")
    if sqlstate in TRANSIENT_SQLSTATES or sqlstate.startswith(TRANSIENT_SQLSTATE_CLASSES):
        return True
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    if isinstance(exc, KafkaError):
        return bool(getattr(exc, "retriable", False)) or type(exc).__name__.startswith(
            TRANSIENT_KAFKA_ERRORS
        )
    if isinstance(exc, OperationalError | InterfaceError):
        # SQLAlchemy's wrappers: transient when what they wrap is (a connection lost).
        return exc.orig is not None and is_transient(exc.orig)
    if type(exc).__name__ in _LOST_CONNECTION and type(exc).__module__.startswith("asyncpg"):
        return True
    if isinstance(exc, OSError):
        # Only the network kind: DNS not answering yet, a host unreachable.
        return exc.errno in _TRANSIENT_ERRNOS or type(exc).__name__ == "gaierror"
    cause = exc.__cause__ or exc.__context__
    return cause is not None and cause is not exc and is_transient(cause)


@dataclass(frozen=True)
class RetryPolicy:
    """Delays that double from `first_s` up to `max_s`, each jittered to 50-150 %.

    `attempts` bounds the tries (None: until it succeeds or is stopped).
    """

    first_s: float = 0.1
    max_s: float = 5.0
    attempts: int | None = None

    def delays(self) -> Iterator[float]:
        """The wait before each retry; ends when the attempts are spent."""
        delay = self.first_s
        retries = 0
        while self.attempts is None or retries < self.attempts - 1:
            retries += 1
            yield delay * (0.5 + random.random())
            delay = min(delay * 2, self.max_s)


DEFAULT_RETRY = RetryPolicy()


def describe(what: str, exc: BaseException) -> str:
    """One line for logs and /readyz: what failed, the error's class and message."""
    return f"{what}: {type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]


async def until_done(
    what: str,
    attempt: Callable[[], Awaitable[T]],
    *,
    stop: asyncio.Event,
    report: Callable[[str | None], None] = lambda _: None,
    policy: RetryPolicy = DEFAULT_RETRY,
    clock: Clock = SYSTEM_CLOCK,
    retry_if: Callable[[BaseException], bool] = is_transient,
) -> T:
    """`attempt()` until it succeeds; raises `Stopped` if `stop` is set first.

    Each retried failure is logged and passed to `report` (the line /readyz shows);
    `report(None)` once it succeeds. An attempt in flight when `stop` is set is
    cancelled. The last failure is raised once the policy's attempts are spent.
    """
    delays = policy.delays()
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
        delay = next(delays, None) if retry_if(exc) else None
        if delay is None:
            raise exc
        reason = describe(what, exc)
        report(reason)
        log.warning(
            "transient failure, retrying",
            extra={"stage": what, "error": reason, "retry_in_s": delay},
        )
        await sleep_unless(clock, delay, stop)


async def retrying(
    what: str,
    attempt: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    clock: Clock = SYSTEM_CLOCK,
    retry_if: Callable[[BaseException], bool] = is_transient,
) -> T:
    """`until_done` without a stop: for a short, bounded retry (a lost race)."""
    return await until_done(
        what, attempt, stop=asyncio.Event(), policy=policy, clock=clock, retry_if=retry_if
    )
