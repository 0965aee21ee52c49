"""The repository's own Kafka clients on a SASL/SCRAM cluster, from the documented
`KAFKA__*` settings alone: `make publish`, `make tail`, the demo traffic, the DLQ replay
(these run with `make test-kafka`)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from switchboard_demo.publish import publish as publish_demo
from switchboard_demo.traffic import Outgoing
from switchboard_devtools import __main__ as devtools
from switchboard_devtools import stack
from switchboard_events.topics import (
    DLQ_ORIGINAL_OFFSET,
    DLQ_ORIGINAL_PARTITION,
    DLQ_ORIGINAL_TOPIC,
    dlq,
)
from switchboard_runtime.apache_kafka import Distribution, KafkaCluster
from switchboard_runtime.kafka import create_topics
from switchboard_runtime.replay import replay
from switchboard_runtime.settings import KafkaSettings, ToolKafkaSettings
from switchboard_runtime.testing.kafka import publish, read_topic

pytestmark = pytest.mark.kafka

SAMPLES = Path(__file__).resolve().parents[2] / "events" / "samples"
SAMPLE = SAMPLES / "switchboard.contact.received.v1" / "call-uk-withheld.json"


@pytest.fixture
async def secured(
    kafka_pom: Path, kafka_distribution: Distribution, tmp_path: Path
) -> AsyncIterator[KafkaSettings]:
    cluster = KafkaCluster(
        kafka_pom,
        log_dir=tmp_path,
        distribution=kafka_distribution,
        scram=("switchboard-tools", "a-test-only-secret"),
    )
    await asyncio.to_thread(cluster.start)
    try:
        yield cluster.client_settings(partitions=3)
    finally:
        cluster.stop()


async def test_the_tools_work_on_a_sasl_scram_cluster_from_the_kafka_environment(
    secured: KafkaSettings,
    topic_suffix: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The cluster refuses clients without SASL (test_apache_kafka_broker shows it).
    environment = secured.as_env("")
    assert environment["KAFKA__SASL_MECHANISM"] == "SCRAM-SHA-512"
    topic, original = f"tools{topic_suffix}", f"tools.original{topic_suffix}"
    await create_topics(secured, [topic, original, dlq(original)])
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    # No `make run`: the broker and its credentials come from KAFKA__* alone.
    monkeypatch.setattr(stack, "STATE_FILE", tmp_path / "missing.json")
    assert ToolKafkaSettings().sasl_username == "switchboard-tools"

    # make publish
    assert await asyncio.to_thread(devtools.main, ["publish", topic, str(SAMPLE)]) == 0
    assert capsys.readouterr().out.splitlines() == [f"published 1 record(s) to {topic}"]

    # the demo traffic publisher
    demo = [Outgoing(0.0, topic, f"demo-{n}", b'{"demo": %d}' % n, "chat") for n in range(3)]
    sent = await publish_demo(demo, ToolKafkaSettings(), asyncio.Event())
    assert sum(sent.values()) == 3

    # make tail, as its own process with the same environment
    tail = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "switchboard_devtools",
        "tail",
        topic,
        "--from-start",
        env=os.environ | environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert tail.stdout is not None
    try:
        lines = [json.loads(await asyncio.wait_for(tail.stdout.readline(), 60)) for _ in range(4)]
    finally:
        tail.terminate()
        _, stderr = await tail.communicate()
    assert sorted(line.get("key", "") for line in lines) == sorted(
        [json.loads(SAMPLE.read_bytes())["subject"], "demo-0", "demo-1", "demo-2"]
    ), stderr.decode()[-2000:]

    # the DLQ replay
    headers = [(DLQ_ORIGINAL_TOPIC, original.encode())]
    headers += [(DLQ_ORIGINAL_PARTITION, b"0"), (DLQ_ORIGINAL_OFFSET, b"0")]
    await publish(secured, dlq(original), [(b"k", b'{"replayed": true}')], headers)
    report = await replay(ToolKafkaSettings(), dlq(original))
    assert report.replayed == [f"{original}/0/0"]
    [replayed] = await read_topic(secured, original, 1)
    assert replayed.value == b'{"replayed": true}'
