"""One clear line instead of a traceback when a command cannot reach PostgreSQL or Kafka.

A service's commands (`serve`, `migrate`, `import` ...) run inside `reported_unreachable`:
a failure to connect, anywhere in the exception's causes, becomes one line on stderr
naming the address tried and the setting that sets it, and exit status 2. Every other
failure still raises with its traceback.
"""

from __future__ import annotations

import os
import socket
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
from aiokafka.errors import KafkaConnectionError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from switchboard_runtime.settings import ServiceSettings

UNREACHABLE_EXIT = 2
# Network failures count as the database's only when raised inside the driver: a timeout
# elsewhere (say, the broker's) must not be reported as PostgreSQL being away.
_NETWORK_FAILURES = (ConnectionError, TimeoutError, socket.gaierror)
_DRIVER = os.path.dirname(asyncpg.__file__)
# What PostgreSQL answers when it is there but refuses us.
_REFUSALS: tuple[type[BaseException], ...] = (
    asyncpg.InvalidCatalogNameError,
    asyncpg.InvalidAuthorizationSpecificationError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
)


@contextmanager
def reported_unreachable(prog: str, settings: ServiceSettings) -> Iterator[None]:
    """Turn a failure to reach the database or broker into one line and `SystemExit(2)`."""
    try:
        yield
    except Exception as exc:
        line = unreachable(exc, settings)
        if line is None:
            raise
        print(f"{prog}: {line}", file=sys.stderr, flush=True)
        raise SystemExit(UNREACHABLE_EXIT) from None


def unreachable(exc: BaseException, settings: ServiceSettings) -> str | None:
    """What could not be reached and how to point the command elsewhere; None: another failure."""
    prefix = str(settings.model_config.get("env_prefix", "")).upper()
    for cause in _causes(exc):
        if isinstance(cause, KafkaConnectionError):
            return (
                f"cannot reach the Kafka broker at {settings.kafka.bootstrap}"
                f" (set {prefix}KAFKA__BOOTSTRAP)"
            )
        if isinstance(cause, _REFUSALS) or (
            isinstance(cause, _NETWORK_FAILURES) and _raised_in_driver(cause)
        ):
            reason = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
            return (
                f"cannot reach PostgreSQL at {_where(settings.database_url.get_secret_value())}:"
                f" {reason} (set {prefix}DATABASE_URL)"
            )
    return None


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception, its causes and contexts, and the members of exception groups."""
    seen: set[int] = set()
    pending = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)


def _raised_in_driver(exc: BaseException) -> bool:
    return any(
        frame.f_code.co_filename.startswith(_DRIVER)
        for frame, _ in traceback.walk_tb(exc.__traceback__)
    )


def _where(url: str) -> str:
    """host:port/database of a URL, without its credentials."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "(the configured URL)"
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"
