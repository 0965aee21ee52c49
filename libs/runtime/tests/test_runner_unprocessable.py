"""Records that fail inside the transaction because of their data, on the real stack."""

from __future__ import annotations

import asyncio
import json
import logging
import traceback
from collections.abc import Sequence
from typing import Any

import echo_service
import pytest
from runtime_fixtures import EchoSetup, RunnerFactory
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from test_runner_integration import events

from switchboard_events.topics import DLQ_ERROR_CLASS, DLQ_ORIGINAL_OFFSET, DLQ_REASON, dlq
from switchboard_runtime import db, kafka
from switchboard_runtime.logs import JsonFormatter
from switchboard_runtime.runner import BatchRunner, Output, Record
from switchboard_runtime.testing import eventually
from switchboard_runtime.testing.kafka import committed, publish, read_to_end, read_topic

pytestmark = pytest.mark.integration

PHONE = "+15550001234"


def poison(event_id: str, **fields: Any) -> tuple[bytes, bytes]:
    return b"poison", json.dumps({"id": event_id, **fields}).encode()


async def test_records_refused_by_their_data_are_dead_lettered_and_the_rest_applied_once(
    echo: EchoSetup, run_in_process: RunnerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    # A NUL that PostgreSQL cannot store in a text column, and a domain rule's ValueError,
    # in the middle of batches of valid records.
    nul = poison("p-nul", n=1, note=f"call back {PHONE}\u0000")
    negative = poison("p-neg", n=-1)
    # Too big for the integer column: the driver refuses to encode the argument.
    overflow = poison("p-big", n=2**40)
    good = events(300)
    await publish(
        echo.kafka, echo.input, [*good[:150], nul, negative, *good[150:280], overflow, *good[280:]]
    )
    caplog.set_level(logging.INFO)
    async with run_in_process():
        letters = await read_topic(echo.kafka, dlq(echo.input), 3)
        out = await read_topic(echo.kafka, echo.output, 300)

        async def all_committed() -> bool:
            return sum((await committed(echo.kafka, echo.group, echo.input)).values()) == 303

        await eventually(
            all_committed, timeout=30, what="every offset, the poison records' too, to be committed"
        )
        # Each valid record's output exactly once: nothing more arrives.
        assert len(await read_to_end(echo.kafka, echo.output)) == 300

    assert sorted(json.loads(m.value)["id"] for m in out) == sorted(f"e{i}" for i in range(300))
    assert await echo.effects() == {f"e{i}": i for i in range(300)}
    by_value = {m.value: m for m in letters}
    assert set(by_value) == {nul[1], negative[1], overflow[1]}, "each keeps the original bytes"
    for letter in letters:
        assert letter.headers[DLQ_ERROR_CLASS] == b"unprocessable"
        int(letter.headers[DLQ_ORIGINAL_OFFSET])
    nul_reason = by_value[nul[1]].headers[DLQ_REASON].decode()
    assert "CharacterNotInRepertoireError (SQLSTATE 22021)" in nul_reason
    assert "ValueError raised in echo_service.py:handle" in (
        by_value[negative[1]].headers[DLQ_REASON].decode()
    )
    assert "DataError (SQLSTATE 22000)" in by_value[overflow[1]].headers[DLQ_REASON].decode()
    assert str(2**40).encode() not in by_value[overflow[1]].headers[DLQ_REASON]
    formatter = JsonFormatter("echo")
    lines = [formatter.format(r) for r in caplog.records]
    assert any("unprocessable" in line for line in lines)
    assert not [line for line in lines if PHONE in line], "no log line may carry the value"
    assert not [m for m in letters if PHONE.encode() in b"".join(m.headers.values())]


async def test_a_code_bug_in_the_handler_still_stops_the_runner(echo: EchoSetup) -> None:
    echo_handler = echo_service.make_handler(echo.settings)

    async def buggy(
        batch: Sequence[Record[dict[str, Any]]], session: AsyncSession
    ) -> Sequence[Output]:
        if any(r.event["n"] == 3 for r in batch):
            raise TypeError("a bug, not bad data")
        return await echo_handler(batch, session)

    await publish(echo.kafka, echo.input, events(10))
    settings = echo.settings
    engine = db.engine_from(settings)
    producer = kafka.make_producer(settings.kafka, "echo-test")
    consumer = kafka.make_consumer(settings.kafka, echo.group, "echo-test")
    runner: BatchRunner[Any] = BatchRunner.from_settings(
        "echo",
        settings,
        consumer=consumer,
        producer=producer,
        sessions=db.make_sessionmaker(engine),
        decoders={echo.input: echo_service.decode},
        handler=buggy,
    )
    await producer.start()
    await consumer.start()
    try:
        with pytest.raises(TypeError, match="a bug"):
            await asyncio.wait_for(runner.run(), 60)
    finally:
        await consumer.stop()
        await producer.stop()
        await engine.dispose()
    assert await read_to_end(echo.kafka, dlq(echo.input)) == []
    assert await committed(echo.kafka, echo.group, echo.input) == {}


async def test_a_failing_statement_does_not_show_its_bound_parameters(echo: EchoSetup) -> None:
    engine = db.engine_from(echo.settings)
    try:
        with pytest.raises(DBAPIError) as failure:
            async with engine.begin() as conn:
                await conn.execute(
                    text("INSERT INTO echo.effects (event_id, n, note) VALUES (:id, 1, :note)"),
                    {"id": "x", "note": f"{PHONE}\u0000"},
                )
    finally:
        await engine.dispose()
    assert getattr(failure.value.orig, "sqlstate", None) == "22021"
    # What a crash prints: the whole traceback, with every chained exception.
    assert PHONE not in "".join(traceback.format_exception(failure.value))
