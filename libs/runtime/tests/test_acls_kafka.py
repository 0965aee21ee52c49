"""The vendor data boundary on Apache Kafka: the shipped `deploy/kafka/acls.sh`, applied
with Kafka's own ACL tool to a SASL/SCRAM cluster with the StandardAuthorizer, lets the
router write every vendor's decisions topic and a vendor's user read its own topic only
(runs with `make test-kafka`)."""

from __future__ import annotations

import asyncio
import os
import shlex
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaError,
    TopicAuthorizationFailedError,
)

from switchboard_events import (
    AUDIT_EVENTS,
    CONTACTS_ENRICHED,
    CONTACTS_INBOUND,
    CONTACTS_LIFECYCLE,
    ROUTING_DECISIONS,
    SLA_ALERTS,
    vendor_decisions,
)
from switchboard_runtime import kafka
from switchboard_runtime.apache_kafka import Distribution, KafkaCluster
from switchboard_runtime.settings import KafkaSettings
from switchboard_runtime.testing.kafka import publish

pytestmark = pytest.mark.kafka

REPO = Path(__file__).resolve().parents[3]
ACLS_SCRIPT = REPO / "deploy" / "kafka" / "acls.sh"
PASSWORD = "a-test-only-secret"
ACME, BETA = vendor_decisions("acme"), vendor_decisions("beta")
TOPICS = [
    CONTACTS_INBOUND,
    CONTACTS_ENRICHED,
    CONTACTS_LIFECYCLE,
    ROUTING_DECISIONS,
    SLA_ALERTS,
    AUDIT_EVENTS,
]


@pytest.fixture
async def cluster(
    kafka_pom: Path, kafka_distribution: Distribution, tmp_path: Path
) -> AsyncIterator[KafkaCluster]:
    users = tuple((name, PASSWORD) for name in ("router", "vendor-acme", "vendor-beta"))
    cluster = KafkaCluster(
        kafka_pom,
        log_dir=tmp_path,
        distribution=kafka_distribution,
        scram=("switchboard-admin", PASSWORD),
        users=users,
        authorizer=True,
    )
    await asyncio.to_thread(cluster.start)
    try:
        await kafka.create_topics(cluster.client_settings(partitions=1), [*TOPICS, ACME, BETA])
        apply_acls(cluster, kafka_distribution, tmp_path, "acme", "beta")
        yield cluster
    finally:
        cluster.stop()


def apply_acls(cluster: KafkaCluster, dist: Distribution, tmp: Path, *vendors: str) -> None:
    """Run the shipped script, with Kafka's AclCommand from the jars as `kafka-acls.sh`."""
    tool = tmp / "kafka-acls"
    command = dist.command("org.apache.kafka.tools.AclCommand")
    tool.write_text(f'#!/bin/sh\nexec {shlex.join(command)} "$@"\n')
    tool.chmod(0o755)
    admin = tmp / "admin.properties"
    module = "org.apache.kafka.common.security.scram.ScramLoginModule"
    admin.write_text(
        "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\n"
        f'sasl.jaas.config={module} required username="switchboard-admin"'
        f' password="{PASSWORD}";\n'
    )
    env = os.environ | {
        "BOOTSTRAP": cluster.bootstrap,
        "KAFKA_ACLS": str(tool),
        "COMMAND_CONFIG": str(admin),
    }
    result = subprocess.run(
        ["sh", str(ACLS_SCRIPT), *vendors], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


async def read_as(settings: KafkaSettings, topic: str, group: str) -> list[bytes] | str:
    """The values read from `topic` in `group`, or the name of the error that refused it."""
    consumer = kafka.make_consumer(settings, group, "acl-check", topic)
    try:
        await consumer.start()
        async with asyncio.timeout(30):
            while True:
                batch = await consumer.getmany(timeout_ms=500)
                if any(batch.values()):
                    await consumer.commit()
                    return [m.value or b"" for ms in batch.values() for m in ms]
    except (TopicAuthorizationFailedError, GroupAuthorizationFailedError) as error:
        return type(error).__name__
    finally:
        await consumer.stop()


async def test_a_vendor_reads_its_own_topic_and_nothing_else(cluster: KafkaCluster) -> None:
    router = cluster.user_settings("router")
    await publish(router, ACME, [(b"c-1", b'{"for": "acme"}')])
    await publish(router, BETA, [(b"c-2", b'{"for": "beta"}')])
    await publish(router, ROUTING_DECISIONS, [(b"c-1", b'{"for": "internal"}')])
    admin = cluster.client_settings()
    for topic in (
        CONTACTS_INBOUND,
        CONTACTS_ENRICHED,
        CONTACTS_LIFECYCLE,
        SLA_ALERTS,
        AUDIT_EVENTS,
    ):
        await publish(admin, topic, [(b"c-1", b"{}")])

    acme = cluster.user_settings("vendor-acme")
    assert await read_as(acme, ACME, "vendor-acme") == [b'{"for": "acme"}']
    for topic in (BETA, *TOPICS):
        assert await read_as(acme, topic, "vendor-acme") == "TopicAuthorizationFailedError", topic
    assert await read_as(acme, ACME, "router") == "GroupAuthorizationFailedError"
    beta = cluster.user_settings("vendor-beta")
    assert await read_as(beta, BETA, "vendor-beta") == [b'{"for": "beta"}']


async def test_the_router_may_create_a_vendor_topic_and_a_vendor_may_not_write(
    cluster: KafkaCluster,
) -> None:
    await kafka.create_topics(cluster.user_settings("router"), [vendor_decisions("gamma")])
    acme = cluster.user_settings("vendor-acme", request_timeout_ms=5000)
    with pytest.raises(KafkaError):
        await kafka.create_topics(acme, [vendor_decisions("x")])
    with pytest.raises(KafkaError):
        await publish(acme, ACME, [(b"c-1", b"{}")])
