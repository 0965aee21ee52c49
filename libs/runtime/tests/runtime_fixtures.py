"""Fixtures of the runtime's own tests: the echo service on the real broker and database
(registered by conftest.py; imported by name from here, which no other tests directory uses)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text

from switchboard_events.topics import dlq
from switchboard_runtime import db, kafka
from switchboard_runtime.runner import BatchRunner
from switchboard_runtime.settings import KafkaSettings
from switchboard_runtime.testing.runner import running_runner

sys.path.insert(0, str(Path(__file__).parent))
import echo_service

ECHO_SCRIPT = Path(__file__).parent / "echo_service.py"


@dataclass
class EchoSetup:
    settings: echo_service.EchoSettings
    kafka: KafkaSettings

    @property
    def group(self) -> str:
        assert self.settings.consumer_group
        return self.settings.consumer_group

    @property
    def input(self) -> str:
        return self.settings.input_topic

    @property
    def output(self) -> str:
        return self.settings.output_topic

    def env(self) -> dict[str, str]:
        s = self.settings
        return (
            os.environ
            | s.kafka.as_env("ECHO_")
            | {
                "ECHO_DATABASE_URL": s.database_url.get_secret_value(),
                "ECHO_INPUT_TOPIC": s.input_topic,
                "ECHO_OUTPUT_TOPIC": s.output_topic,
                "ECHO_CONSUMER_GROUP": self.group,
                "ECHO_HANDLER_DELAY_S": str(s.handler_delay_s),
                "ECHO_HTTP_PORT": "0",
            }
        )

    async def effects(self) -> dict[str, int]:
        engine = db.make_engine(self.settings.database_url.get_secret_value())
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(text("SELECT event_id, n FROM echo.effects"))
                return {row[0]: row[1] for row in rows}
        finally:
            await engine.dispose()


@pytest.fixture
async def echo(kafka_settings: KafkaSettings, database_url: str, topic_suffix: str) -> EchoSetup:
    settings = echo_service.EchoSettings(
        database_url=database_url,
        kafka=kafka_settings.model_copy(
            update={"max_batch_records": 200, "max_message_bytes": 4096}
        ),
        input_topic=f"echo.in{topic_suffix}",
        output_topic=f"echo.out{topic_suffix}",
        consumer_group=f"echo{topic_suffix}",
    )
    topics = [settings.input_topic, settings.output_topic, dlq(settings.input_topic)]
    await kafka.create_topics(kafka_settings, topics)
    engine = db.make_engine(database_url)
    await echo_service.create_schema(engine)
    await engine.dispose()
    return EchoSetup(settings, kafka_settings)


RunnerFactory = Callable[[], AbstractAsyncContextManager[BatchRunner[object]]]


@pytest.fixture
def run_in_process(echo: EchoSetup) -> RunnerFactory:
    """Runs the echo runner as a task in this event loop until the block ends."""

    def running() -> AbstractAsyncContextManager[BatchRunner[object]]:
        s = echo.settings
        decoders = {s.input_topic: echo_service.decode}
        return running_runner("echo", s, decoders, echo_service.make_handler(s))

    return running


ProcessFactory = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def start_process(echo: EchoSetup, tmp_path: Path) -> Iterator[ProcessFactory]:
    """Starts the echo service as a separate process; kills leftovers at the end."""
    started: list[subprocess.Popen[bytes]] = []

    def start(**overrides: str) -> subprocess.Popen[bytes]:
        log = open(tmp_path / f"echo-{len(started)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, str(ECHO_SCRIPT)],
            env=echo.env() | overrides,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
