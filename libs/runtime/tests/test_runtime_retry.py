"""The one retry policy: which failures heal by themselves, and the backoff."""

from __future__ import annotations

import asyncio
import errno
import socket

import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    UnknownTopicOrPartitionError,
)
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from switchboard_runtime.errors import Stopped
from switchboard_runtime.retry import RetryPolicy, is_transient, retrying, until_done
from switchboard_runtime.testing import ManualClock


class PgError(Exception):
    """Stands in for a driver error carrying a SQLSTATE."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(),
        ConnectionResetError(),
        TimeoutError(),
        OSError(errno.EHOSTUNREACH, "no route to host"),
        socket.gaierror(socket.EAI_AGAIN, "temporary failure in name resolution"),
        KafkaConnectionError("down"),
        KafkaTimeoutError(),
        NotLeaderForPartitionError(),  # retriable: a leader election
        UnknownTopicOrPartitionError(),  # retriable: the topic is being created
        OperationalError("SELECT 1", {}, ConnectionRefusedError()),
        PgError("08006"),  # connection failure
        PgError("53300"),  # too many connections
        PgError("40001"),  # serialization failure
        PgError("40P01"),  # deadlock
        PgError("57P01"),  # the server is shutting down
    ],
    ids=type,
)
def test_what_heals_by_itself_is_transient(exc: BaseException) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        FileNotFoundError(errno.ENOENT, "no such file", "policy.yaml"),
        PermissionError(errno.EACCES, "permission denied"),
        IsADirectoryError(errno.EISDIR, "is a directory"),
        OSError(errno.ENOSPC, "no space left on device"),
        MessageSizeTooLargeError(),
        IntegrityError("INSERT", {}, PgError("23505")),
        ProgrammingError("SELECT", {}, PgError("42P01")),  # undefined table: a missing migration
        OperationalError("SELECT", {}, PgError("3D000")),  # database does not exist
        KeyError("queue"),
        ValueError("bad"),
    ],
    ids=type,
)
def test_what_fails_the_same_way_again_is_not_transient(exc: BaseException) -> None:
    assert not is_transient(exc)


def test_a_transient_cause_makes_its_wrapper_transient() -> None:
    outer = RuntimeError("while publishing")
    outer.__cause__ = ConnectionResetError()
    assert is_transient(outer)


def test_delays_double_up_to_the_cap_with_jitter() -> None:
    delays = list(RetryPolicy(first_s=1, max_s=4, attempts=6).delays())
    assert len(delays) == 5  # six attempts: five waits between them
    for delay, base in zip(delays, [1, 2, 4, 4, 4], strict=True):
        assert 0.5 * base <= delay <= 1.5 * base


async def test_until_done_retries_on_the_clock_until_it_succeeds() -> None:
    clock = ManualClock()
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ConnectionRefusedError()
        return "up"

    reports: list[str | None] = []
    done = asyncio.ensure_future(
        until_done("database", flaky, stop=asyncio.Event(), report=reports.append, clock=clock)
    )
    for _ in range(2):
        await clock.until_sleeping()
        clock.advance(10)
    assert await asyncio.wait_for(done, 10) == "up"
    assert calls == 3
    assert reports[-1] is None
    assert "ConnectionRefusedError" in str(reports[0])


async def test_until_done_raises_what_is_not_transient_at_once() -> None:
    async def broken() -> None:
        raise FileNotFoundError(errno.ENOENT, "no such file")

    with pytest.raises(FileNotFoundError):
        await until_done("file", broken, stop=asyncio.Event(), clock=ManualClock())


async def test_until_done_gives_up_when_the_attempts_are_spent() -> None:
    clock = ManualClock()
    calls = 0

    async def down() -> None:
        nonlocal calls
        calls += 1
        raise ConnectionRefusedError()

    attempt = asyncio.ensure_future(
        retrying("insert", down, policy=RetryPolicy(first_s=0.01, attempts=3), clock=clock)
    )
    for _ in range(2):
        await clock.until_sleeping()
        clock.advance(1)
    with pytest.raises(ConnectionRefusedError):
        await asyncio.wait_for(attempt, 10)
    assert calls == 3


async def test_a_stop_ends_the_wait() -> None:
    clock = ManualClock()
    stop = asyncio.Event()

    async def down() -> None:
        raise ConnectionRefusedError()

    waiting = asyncio.ensure_future(until_done("broker", down, stop=stop, clock=clock))
    await clock.until_sleeping()
    stop.set()
    with pytest.raises(Stopped):
        await asyncio.wait_for(waiting, 10)
