"""Dead-letter copies on the real broker: oversize records kept whole, or cut and marked."""

from __future__ import annotations

import hashlib
import json

import echo_service
import pytest
from aiokafka import AIOKafkaProducer
from runtime_fixtures import EchoSetup, RunnerFactory

from switchboard_events.topics import (
    DLQ_ERROR_CLASS,
    DLQ_ORIGINAL_SHA256,
    DLQ_ORIGINAL_SIZE,
    DLQ_TRUNCATED,
    dlq,
)
from switchboard_runtime.testing.kafka import read_topic
from switchboard_runtime.testing.runner import running_runner

pytestmark = pytest.mark.integration


def oversize(size: int) -> bytes:
    head = b'{"id": "big", "n": 1, "pad": "'
    return head + b"x" * (size - len(head) - 2) + b'"}'


async def publish_large(echo: EchoSetup, value: bytes) -> None:
    # A plain client, so the test does not depend on the runtime's own producer limits.
    producer = AIOKafkaProducer(
        bootstrap_servers=echo.kafka.bootstrap, acks="all", max_request_size=4 * len(value)
    )
    await producer.start()
    try:
        await producer.send_and_wait(echo.input, value, key=b"big")
        await producer.send_and_wait(echo.input, json.dumps({"id": "e0", "n": 0}).encode())
    finally:
        await producer.stop()


async def test_an_oversize_record_is_dead_lettered_whole_with_its_size_and_hash(
    echo: EchoSetup, run_in_process: RunnerFactory
) -> None:
    value = oversize(1_126_870)
    await publish_large(echo, value)
    async with run_in_process():
        letters = await read_topic(echo.kafka, dlq(echo.input), 1)
        assert len(await read_topic(echo.kafka, echo.output, 1)) == 1
    assert len(letters) == 1
    (letter,) = letters
    assert letter.headers[DLQ_ERROR_CLASS] == b"too_large"
    assert len(letter.value) == len(value)
    assert letter.value == value, "the copy is the original, whole, so it can be replayed"
    assert letter.headers[DLQ_ORIGINAL_SIZE] == b"1126870"
    assert letter.headers[DLQ_ORIGINAL_SHA256] == hashlib.sha256(value).hexdigest().encode()
    assert letter.headers[DLQ_TRUNCATED] == b"false"


async def test_past_the_dead_letter_limit_the_copy_is_cut_and_marked(echo: EchoSetup) -> None:
    value = oversize(100_000)
    await publish_large(echo, value)
    settings = echo.settings.model_copy(
        update={"kafka": echo.settings.kafka.model_copy(update={"max_dead_letter_bytes": 65_536})}
    )
    decoders = {settings.input_topic: echo_service.decode}
    async with running_runner("echo", settings, decoders, echo_service.make_handler(settings)):
        letters = await read_topic(echo.kafka, dlq(echo.input), 1)
    (letter,) = letters
    assert letter.value == value[:65_536]
    assert letter.headers[DLQ_TRUNCATED] == b"true"
    assert letter.headers[DLQ_ORIGINAL_SIZE] == b"100000"
    assert letter.headers[DLQ_ORIGINAL_SHA256] == hashlib.sha256(value).hexdigest().encode()
