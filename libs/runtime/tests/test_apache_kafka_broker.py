"""The Apache Kafka harness itself, and what only a real Kafka broker can show: clusters
of their own, started from the session's jars (these run with `make test-kafka`)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import echo_service
import pytest
from aiokafka.errors import KafkaError
from runtime_fixtures import ECHO_SCRIPT
from test_runner_integration import events

from switchboard_events.topics import dlq
from switchboard_runtime import db
from switchboard_runtime.apache_kafka import (
    Distribution,
    KafkaCluster,
    Node,
    process_alive,
    remove_stale_data,
)
from switchboard_runtime.embedded import EmbeddedError
from switchboard_runtime.kafka import create_topics, make_admin, make_producer
from switchboard_runtime.testing.kafka import publish, read_topic

pytestmark = pytest.mark.kafka

HARNESS = """
import signal, sys
from pathlib import Path
from switchboard_runtime.apache_kafka import KafkaCluster
cluster = KafkaCluster(Path(sys.argv[1]))
cluster.start()
print(cluster.root, *[node.pid for node in cluster.nodes], flush=True)
signal.pause()  # until the test kills this harness
"""


def test_a_killed_harness_leaves_no_broker_and_no_data(kafka_pom: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", HARNESS, str(kafka_pom)], stdout=subprocess.PIPE, text=True
    ) as harness:
        assert harness.stdout is not None
        started = harness.stdout.readline().split()
        assert started, f"the harness exited with {harness.poll()} before the broker started"
        root, pids = Path(started[0]), [int(pid) for pid in started[1:]]
        assert root.is_dir()
        assert all(process_alive(pid) for pid in pids)
        harness.kill()
    deadline = time.monotonic() + 30
    while any(process_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(process_alive(pid) for pid in pids), "a broker outlived its harness"
    remove_stale_data()  # what the next start does first
    assert not root.exists()


class RefusedCluster(KafkaCluster):
    """A cluster whose second node has a configuration Kafka's storage tool refuses."""

    def config(self, node: Node) -> dict[str, str]:
        refused = {"node.id": "two"} if node.node_id == 2 else {}
        return super().config(node) | refused


def running_children() -> set[int]:
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rpartition(")")[2].split()
            if fields[0] != "Z" and int(fields[1]) == os.getpid():
                children.add(int(stat.parent.name))
    return children


def test_a_refused_format_says_why_tries_twice_and_leaves_no_jvm(
    kafka_pom: Path, kafka_distribution: Distribution, tmp_path: Path
) -> None:
    before = running_children()
    cluster = RefusedCluster(kafka_pom, size=3, log_dir=tmp_path, distribution=kafka_distribution)
    try:
        with pytest.raises(
            EmbeddedError, match=r"node 2: exit 1: (?s:.*)Invalid value two for"
        ) as refused:
            cluster.start()
    finally:
        cluster.stop()
    assert "node 1" not in str(refused.value)
    assert "node 3" not in str(refused.value)
    assert "\tat " not in str(refused.value)
    assert (tmp_path / "kafka.log").read_text().count("formatting failed, node 2") == 2
    assert running_children() <= before


async def test_the_idempotent_producer_writes_each_record_once_across_broker_crashes(
    kafka_pom: Path, kafka_distribution: Distribution, tmp_path: Path
) -> None:
    # aio-libs/aiokafka#1017: an idempotent producer could stall on OutOfOrderSequenceNumber
    # after a broker restart. Here sends are in flight while the broker is SIGKILLed.
    cluster = KafkaCluster(kafka_pom, log_dir=tmp_path, distribution=kafka_distribution)
    await asyncio.to_thread(cluster.start)
    try:
        settings = cluster.client_settings(partitions=3)
        assert settings.enable_idempotence
        await create_topics(settings, ["restarts"])
        producer = make_producer(settings, "restart-test")
        await producer.start()
        try:
            for crash in range(3):
                futures = [
                    await producer.send("restarts", f"{crash}-{i}".encode(), key=str(i).encode())
                    for i in range(300)
                ]
                if crash < 2:
                    node = cluster.nodes[0]
                    await asyncio.to_thread(cluster.stop_node, node, signal.SIGKILL)
                    await asyncio.to_thread(cluster.start_node, node)
                await asyncio.wait_for(asyncio.gather(*futures), 120)
        finally:
            await producer.stop()
        written = Counter(m.value for m in await read_topic(settings, "restarts", 900, timeout=60))
        assert len(written) == 900
        assert [value for value, n in written.items() if n > 1] == []
    finally:
        cluster.stop()


def spawn_echo(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with open(log_path, "wb") as log:
        return subprocess.Popen([sys.executable, str(ECHO_SCRIPT)], env=env, stdout=log, stderr=log)


async def test_a_service_runs_on_a_sasl_scram_cluster_from_its_documented_settings(
    kafka_pom: Path,
    kafka_distribution: Distribution,
    database_url: str,
    topic_suffix: str,
    tmp_path: Path,
) -> None:
    cluster = KafkaCluster(
        kafka_pom,
        log_dir=tmp_path,
        distribution=kafka_distribution,
        scram=("switchboard", "a-test-only-secret"),
    )
    await asyncio.to_thread(cluster.start)
    try:
        secured = cluster.client_settings(partitions=3)
        anonymous = make_admin(secured.model_copy(update={"security_protocol": "PLAINTEXT"}))
        with pytest.raises((KafkaError, TimeoutError)):
            await asyncio.wait_for(anonymous.start(), 20)
        await anonymous.close()

        source, sink = f"echo.in{topic_suffix}", f"echo.out{topic_suffix}"
        await create_topics(secured, [source, sink, dlq(source)])
        engine = db.make_engine(database_url)
        await echo_service.create_schema(engine)
        await engine.dispose()
        # The service's environment: KAFKA__SECURITY_PROTOCOL, __SASL_MECHANISM, ... only.
        env = secured.as_env("ECHO_") | {
            "ECHO_DATABASE_URL": database_url,
            "ECHO_INPUT_TOPIC": source,
            "ECHO_OUTPUT_TOPIC": sink,
            "ECHO_CONSUMER_GROUP": f"echo{topic_suffix}",
            "ECHO_HTTP_PORT": "0",
        }
        assert env["ECHO_KAFKA__SASL_MECHANISM"] == "SCRAM-SHA-512"
        service = spawn_echo(os.environ | env, tmp_path / "echo.log")
        try:
            await publish(secured, source, events(50))
            echoed = await read_topic(secured, sink, 50, timeout=60)
        finally:
            service.terminate()
            service.wait()
        assert len(echoed) == 50, (tmp_path / "echo.log").read_text()[-3000:]
    finally:
        cluster.stop()
