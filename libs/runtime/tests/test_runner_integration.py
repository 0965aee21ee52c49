"""The batch runner against the real broker and database."""

from __future__ import annotations

import json

import pytest
from runtime_fixtures import EchoSetup, RunnerFactory

from switchboard_events.topics import (
    DLQ_ERROR_CLASS,
    DLQ_ORIGINAL_OFFSET,
    DLQ_ORIGINAL_PARTITION,
    DLQ_ORIGINAL_TOPIC,
    DLQ_REASON,
    dlq,
)
from switchboard_runtime import metrics
from switchboard_runtime.testing import eventually
from switchboard_runtime.testing.kafka import (
    committed,
    publish,
    read_to_end,
    read_topic,
    read_until,
)
from switchboard_runtime.testing.plugin import Stack

pytestmark = pytest.mark.integration


def events(count: int, start: int = 0) -> list[tuple[bytes, bytes]]:
    return [
        (f"k{i % 7}".encode(), json.dumps({"id": f"e{i}", "n": i}).encode())
        for i in range(start, start + count)
    ]


def retries(name: str) -> float:
    """How often the runner called `name` retried a transient failure, all stages."""
    return sum(
        sample.value
        for metric in metrics.TRANSIENT_ERRORS.collect()
        for sample in metric.samples
        if sample.name.endswith("_total") and sample.labels["consumer"] == name
    )


async def test_valid_batch_flows_and_commits(
    echo: EchoSetup, run_in_process: RunnerFactory
) -> None:
    await publish(echo.kafka, echo.input, events(500))
    async with run_in_process():
        out = await read_topic(echo.kafka, echo.output, 500)
        assert len(out) == 500

        async def all_committed() -> bool:
            offsets = await committed(echo.kafka, echo.group, echo.input)
            return sum(offsets.values()) == 500

        await eventually(all_committed, timeout=20, what="offsets of all 500 records committed")
    effects = await echo.effects()
    assert effects == {f"e{i}": i for i in range(500)}
    # Keys are kept, so per-key order survives: each key's outputs arrive in input order.
    by_key: dict[bytes | None, list[int]] = {}
    for message in sorted(out, key=lambda m: (m.partition, m.offset)):
        by_key.setdefault(message.key, []).append(json.loads(message.value)["n"])
    assert all(ns == sorted(ns) for ns in by_key.values())


async def test_invalid_records_are_dead_lettered_and_the_rest_flows(
    echo: EchoSetup, run_in_process: RunnerFactory
) -> None:
    bad = [
        (b"bad-json", b'{"id": "x1", "n": '),
        (b"bad-schema", json.dumps({"id": 7, "n": "seven"}).encode()),
        (b"oversize", json.dumps({"id": "x3", "n": 1, "pad": "x" * 5000}).encode()),
        (b"bad-encoding", b'{"id": "x4", "n": 1, "name": "\xff\xfe"}'),
    ]
    good = events(20)
    await publish(echo.kafka, echo.input, [*good[:10], *bad, *good[10:]])
    async with run_in_process():
        letters = await read_topic(echo.kafka, dlq(echo.input), 4)
        out = await read_topic(echo.kafka, echo.output, 20)
    assert len(out) == 20, "valid records around the bad ones must still flow"
    assert len(letters) == 4
    classes = {m.key: m.headers[DLQ_ERROR_CLASS].decode() for m in letters}
    assert classes[b"bad-json"] == "not_json"
    assert classes[b"bad-encoding"] == "not_utf8"
    assert classes[b"bad-schema"] == "schema_violation"
    assert classes[b"oversize"] == "too_large"
    for letter in letters:
        assert letter.headers[DLQ_ORIGINAL_TOPIC].decode() == echo.input
        int(letter.headers[DLQ_ORIGINAL_PARTITION])
        int(letter.headers[DLQ_ORIGINAL_OFFSET])
        assert letter.headers[DLQ_REASON]
    assert b"5000" not in letters[0].headers[DLQ_REASON]
    assert len(await echo.effects()) == 20


async def test_database_outage_pauses_without_commit_or_dead_letters(
    stack: Stack, echo: EchoSetup, run_in_process: RunnerFactory
) -> None:
    async with run_in_process() as runner:
        await publish(echo.kafka, echo.input, events(100))
        await read_topic(echo.kafka, echo.output, 100)
        stack.postgres.stop()
        try:
            await publish(echo.kafka, echo.input, events(100, start=100))
            await eventually(
                lambda: runner.state.retrying is not None,
                timeout=20,
                what="the runner to notice the outage",
            )
            noticed = retries(runner.name)
            # Three more refused attempts at the batch: it was retried, never committed.
            await eventually(
                lambda: retries(runner.name) >= noticed + 3,
                timeout=30,
                what="the runner to retry the batch while the database is down",
            )
            offsets = await committed(echo.kafka, echo.group, echo.input)
            assert sum(offsets.values()) == 100, "nothing may be committed while the DB is down"
        finally:
            stack.postgres.restart()
        await read_until(
            echo.kafka,
            echo.output,
            lambda out: len({json.loads(m.value)["id"] for m in out}) == 200,
            timeout=60,
            what="an output for each of the 200 records (copies allowed)",
        )
    assert await read_to_end(echo.kafka, dlq(echo.input)) == []
    assert await echo.effects() == {f"e{i}": i for i in range(200)}
