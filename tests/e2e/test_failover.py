"""Broker failover on a three-node Apache Kafka cluster (replication 3, min.insync.replicas
2), with the three services as processes and demo traffic flowing: the broker leading
most partitions is killed with SIGKILL mid-stream and restarted later. Every contact
still gets exactly one decision id, nothing valid is dead-lettered, no service needs a
restart. Runs with `make test-kafka`; `-s` prints the figures."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from pipeline import Pipeline, topic_names

from switchboard_demo.customers import demo_customers
from switchboard_demo.traffic import Outgoing, TrafficConfig, generate_traffic
from switchboard_events import CONTACTS_INBOUND, ROUTING_DECISIONS
from switchboard_events.topics import dlq
from switchboard_runtime.apache_kafka import Distribution, KafkaCluster
from switchboard_runtime.kafka import create_topics, make_producer
from switchboard_runtime.settings import KafkaSettings
from switchboard_runtime.testing.kafka import read_topic
from switchboard_runtime.testing.plugin import TEMPLATE_DB, Stack, execute_admin

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

TRAFFIC_SECONDS = 30
KILL_AT_S = 8.0
RESTART_AT_S = 20.0


@pytest.fixture(scope="module")
async def cluster(
    kafka_pom: Path, kafka_distribution: Distribution, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[KafkaCluster]:
    three = KafkaCluster(
        kafka_pom,
        size=3,
        log_dir=tmp_path_factory.mktemp("cluster"),
        distribution=kafka_distribution,
    )
    await asyncio.to_thread(three.start)
    try:
        yield three
    finally:
        three.stop()


async def leader_of_most_partitions(settings: KafkaSettings, topics: list[str]) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    leaders = Counter(p["leader"] for topic in described for p in topic["partitions"])
    return int(leaders.most_common(1)[0][0])


async def publish_on_time(settings: KafkaSettings, items: list[Outgoing], began: float) -> set[str]:
    contacts = set()
    producer = make_producer(settings, "failover-traffic")
    await producer.start()
    try:
        pending = []
        for item in sorted(items, key=lambda i: i.at):
            if (wait := began + item.at - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            pending.append(await producer.send(item.topic, item.value, key=item.key.encode()))
            if item.topic == CONTACTS_INBOUND:
                contacts.add(item.key)
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return contacts


async def crash_busiest_broker(cluster: KafkaCluster, settings: KafkaSettings, began: float) -> int:
    await asyncio.sleep(max(0.0, began + KILL_AT_S - time.monotonic()))
    leader = await leader_of_most_partitions(settings, [CONTACTS_INBOUND, ROUTING_DECISIONS])
    node = next(n for n in cluster.nodes if n.node_id == leader)
    await asyncio.to_thread(cluster.stop_node, node, signal.SIGKILL)
    await asyncio.sleep(max(0.0, began + RESTART_AT_S - time.monotonic()))
    await asyncio.to_thread(cluster.start_node, node)
    return leader


async def test_killing_the_busiest_broker_loses_and_doubles_no_decision(
    stack: Stack, cluster: KafkaCluster, tmp_path: Path
) -> None:
    name = f"failover_{uuid.uuid4().hex[:8]}"
    await execute_admin(stack.url("postgres"), f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE_DB}"')
    kafka = cluster.client_settings()
    assert (kafka.replication_factor, kafka.enable_idempotence) == (3, True)
    pipeline = Pipeline(kafka, stack.url(name), tmp_path)
    try:
        await create_topics(kafka, topic_names())
        customers = demo_customers()
        customers_file = tmp_path / "customers.jsonl"
        customers_file.write_text("".join(json.dumps(c.to_json()) + "\n" for c in customers))
        pipeline.run_command("profile-lookup", "import", str(customers_file))
        for service in ("profile-lookup", "router", "sla-monitor"):
            await asyncio.to_thread(pipeline.start, service)

        run = uuid.uuid4().hex[:8]
        config = TrafficConfig(seed=5, rate=3, duration=TRAFFIC_SECONDS, run_id=run)
        items = list(generate_traffic(customers, config, datetime.now(UTC)))
        began = time.monotonic()
        contacts, killed = await asyncio.gather(
            publish_on_time(kafka, items, began), crash_busiest_broker(cluster, kafka, began)
        )
        decisions = await read_topic(kafka, ROUTING_DECISIONS, len(contacts), timeout=120)
        settled_after = time.monotonic() - began - TRAFFIC_SECONDS
        dead_letters = await read_topic(kafka, dlq(CONTACTS_INBOUND), 10**6, timeout=3)
        exited = {n: p.returncode for n, p in pipeline.procs.items() if p.poll() is not None}
    finally:
        pipeline.stop_all()
        await execute_admin(stack.url("postgres"), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    ids: dict[str, set[str]] = defaultdict(set)
    for message in decisions:
        data = json.loads(message.value)["data"]
        ids[str(data["contact_id"])].add(str(data["decision_id"]))
    figures = {
        "contacts": len(contacts),
        "decisions": len(decisions),
        "distinct_decision_ids": sum(len(v) for v in ids.values()),
        "redeliveries": len(decisions) - sum(len(v) for v in ids.values()),
        "killed_broker": killed,
        "seconds_after_traffic_to_all_decisions": round(settled_after, 1),
    }
    print(f"failover: {json.dumps(figures)}")
    missing = contacts - set(ids)
    assert not missing, f"{len(missing)} contacts got no decision, e.g. {sorted(missing)[:3]}"
    assert set(ids) == contacts, "decisions for contacts never sent"
    assert not {c: v for c, v in ids.items() if len(v) > 1}, "a contact got two decision ids"
    assert dead_letters == [], "valid records were dead-lettered"
    assert not exited, f"services exited during the failover: {exited}"
