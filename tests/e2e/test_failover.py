"""Broker failover on a three-node Apache Kafka cluster (replication 3, min.insync.replicas
2), with the three services as processes and demo traffic flowing:

- the broker leading most partitions is killed with SIGKILL mid-stream, restarted later;
- a rolling restart: each broker in turn stopped with SIGTERM and started again, the
  next one only once every partition is back in sync on all three;
- three instances of each service: two more of each join while the busiest broker
  restarts, so rebalances and leader changes come together; /readyz is sampled.

Each time every contact still gets exactly one decision id, every SLA alert one alert
id, nothing valid is dead-lettered, no service needs a restart. Runs with `make test-kafka`; `-s` prints
the figures (redeliveries are decisions read twice with the same id)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pipeline import Pipeline, topic_names

from switchboard_demo.customers import demo_customers
from switchboard_demo.traffic import Outgoing, TrafficConfig, generate_traffic
from switchboard_events import CONTACTS_INBOUND, ROUTING_DECISIONS, SLA_ALERTS
from switchboard_events.topics import dlq
from switchboard_runtime.apache_kafka import Distribution, KafkaCluster
from switchboard_runtime.kafka import create_topics, make_admin, make_producer
from switchboard_runtime.settings import KafkaSettings
from switchboard_runtime.testing import eventually
from switchboard_runtime.testing.kafka import read_to_end, read_until
from switchboard_runtime.testing.plugin import Stack

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

TRAFFIC_SECONDS = 30
# Faults are timed by the traffic's progress, not the clock: mid-stream, and back in time
# for the rest of it.
KILL_SHARE = 0.25
RESTART_SHARE = 0.65
WATCHED = [CONTACTS_INBOUND, ROUTING_DECISIONS]


@pytest.fixture
async def cluster(
    kafka_pom: Path, kafka_distribution: Distribution, tmp_path: Path
) -> AsyncIterator[KafkaCluster]:
    """A fresh cluster per test: each starts with healthy brokers and empty topics."""
    three = KafkaCluster(kafka_pom, size=3, log_dir=tmp_path, distribution=kafka_distribution)
    await asyncio.to_thread(three.start)
    try:
        yield three
    finally:
        three.stop()


async def describe(settings: KafkaSettings, topics: list[str]) -> list[dict[str, Any]]:
    admin = make_admin(settings)
    await admin.start()
    try:
        return [p for topic in await admin.describe_topics(topics) for p in topic["partitions"]]
    finally:
        await admin.close()


async def leader_of_most_partitions(settings: KafkaSettings) -> int:
    leaders = Counter(p["leader"] for p in await describe(settings, WATCHED))
    return int(leaders.most_common(1)[0][0])


async def wait_in_sync(settings: KafkaSettings, replicas: int, timeout: float = 60) -> None:
    async def in_sync() -> bool:
        return all(len(p["isr"]) == replicas for p in await describe(settings, WATCHED))

    await eventually(
        in_sync, timeout=timeout, what=f"every partition back in sync on {replicas} brokers"
    )


@dataclass
class Traffic:
    """The demo traffic as it is published, at the pace of its script."""

    items: list[Outgoing]
    published: int = 0

    async def reached(self, share: float) -> None:
        await eventually(
            lambda: self.published >= share * len(self.items),
            timeout=3 * TRAFFIC_SECONDS,
            what=f"{share:.0%} of the traffic to be published",
        )


async def publish_on_time(settings: KafkaSettings, traffic: Traffic) -> set[str]:
    contacts = set()
    producer = make_producer(settings, "failover-traffic")
    await producer.start()
    began = time.monotonic()
    try:
        pending = []
        for item in sorted(traffic.items, key=lambda i: i.at):
            # The script's pace: contacts arrive over TRAFFIC_SECONDS as they would live.
            if (wait := began + item.at - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            pending.append(await producer.send(item.topic, item.value, key=item.key.encode()))
            traffic.published += 1
            if item.topic == CONTACTS_INBOUND:
                contacts.add(item.key)
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return contacts


async def crash_busiest_broker(
    cluster: KafkaCluster, settings: KafkaSettings, traffic: Traffic
) -> str:
    await traffic.reached(KILL_SHARE)
    leader = await leader_of_most_partitions(settings)
    node = next(n for n in cluster.nodes if n.node_id == leader)
    await asyncio.to_thread(cluster.stop_node, node, signal.SIGKILL)
    await traffic.reached(RESTART_SHARE)
    await asyncio.to_thread(cluster.start_node, node)
    return (
        f"SIGKILL broker {leader} after {KILL_SHARE:.0%} of the traffic,"
        f" restarted after {RESTART_SHARE:.0%}"
    )


async def rolling_restart(cluster: KafkaCluster, settings: KafkaSettings, traffic: Traffic) -> str:
    await traffic.reached(KILL_SHARE)
    for node in cluster.nodes:
        await asyncio.to_thread(cluster.stop_node, node, signal.SIGTERM)
        await asyncio.to_thread(cluster.start_node, node)
        await wait_in_sync(settings, len(cluster.nodes))
    return f"rolling SIGTERM restart from {KILL_SHARE:.0%} of the traffic on"


Disruption = Callable[[KafkaCluster, KafkaSettings, Traffic], Awaitable[str]]


SERVICE_NAMES = ("profile-lookup", "router", "sla-monitor")


@contextlib.asynccontextmanager
async def failover_pipeline(
    stack: Stack, cluster: KafkaCluster, tmp_path: Path
) -> AsyncIterator[Pipeline]:
    """The three services on the cluster, with the demo customers imported; stopped after."""
    async with stack.new_database("failover") as database_url:
        kafka = cluster.client_settings()
        assert (kafka.replication_factor, kafka.enable_idempotence) == (3, True)
        pipeline = Pipeline(kafka, database_url, tmp_path)
        try:
            await create_topics(kafka, topic_names())
            customers_file = tmp_path / "customers.jsonl"
            customers_file.write_text(
                "".join(json.dumps(c.to_json()) + "\n" for c in demo_customers())
            )
            pipeline.run_command("profile-lookup", "import", str(customers_file))
            for service in SERVICE_NAMES:
                await asyncio.to_thread(pipeline.start, service)
            yield pipeline
        finally:
            pipeline.stop_all()


def demo_traffic() -> list[Outgoing]:
    run = uuid.uuid4().hex[:8]
    config = TrafficConfig(seed=5, rate=3, duration=TRAFFIC_SECONDS, run_id=run)
    return list(generate_traffic(demo_customers(), config, datetime.now(UTC)))


async def outcome(pipeline: Pipeline, contacts: set[str], what: str) -> dict[str, Any]:
    """Read what the services produced, check the failover guarantees, return the figures."""
    kafka = pipeline.kafka
    decisions = await read_until(
        kafka,
        ROUTING_DECISIONS,
        lambda out: {json.loads(m.value)["data"]["contact_id"] for m in out} >= contacts,
        timeout=120,
        what="a decision for every contact sent (redelivered copies allowed)",
    )
    alerts = await read_to_end(kafka, SLA_ALERTS)
    dead_letters = await read_to_end(kafka, dlq(CONTACTS_INBOUND))
    exited = {n: p.returncode for n, p in pipeline.procs.items() if p.poll() is not None}

    ids: dict[str, set[str]] = defaultdict(set)
    for message in decisions:
        data = json.loads(message.value)["data"]
        ids[str(data["contact_id"])].add(str(data["decision_id"]))
    # One alert is one (contact, target, kind, level): redelivered, it keeps its id.
    alert_ids: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for message in alerts:
        data = json.loads(message.value)["data"]
        alert = (data["contact_id"], data["target"], data["kind"], str(data["level"]))
        alert_ids[alert].add(str(data["alert_id"]))
    figures = {
        "contacts": len(contacts),
        "decisions": len(decisions),
        "distinct_decision_ids": sum(len(v) for v in ids.values()),
        "redeliveries": len(decisions) - sum(len(v) for v in ids.values()),
        "alerts": len(alerts),
        "alert_redeliveries": len(alerts) - sum(len(v) for v in alert_ids.values()),
        "disruption": what,
        "traffic_s": TRAFFIC_SECONDS,
    }
    missing = contacts - set(ids)
    assert not missing, f"{len(missing)} contacts got no decision, e.g. {sorted(missing)[:3]}"
    assert set(ids) == contacts, "decisions for contacts never sent"
    assert not {c: v for c, v in ids.items() if len(v) > 1}, "a contact got two decision ids"
    assert not {a: v for a, v in alert_ids.items() if len(v) > 1}, "an SLA alert got two ids"
    assert dead_letters == [], "valid records were dead-lettered"
    assert not exited, f"services exited during the failover: {exited}"
    return figures


@pytest.mark.parametrize("disrupt", [crash_busiest_broker, rolling_restart])
async def test_broker_failover_loses_and_doubles_no_decision(
    stack: Stack, cluster: KafkaCluster, tmp_path: Path, disrupt: Disruption
) -> None:
    async with failover_pipeline(stack, cluster, tmp_path) as pipeline:
        kafka = pipeline.kafka
        traffic = Traffic(demo_traffic())
        contacts, what = await asyncio.gather(
            publish_on_time(kafka, traffic), disrupt(cluster, kafka, traffic)
        )
        figures = await outcome(pipeline, contacts, what)
    print(f"failover: {json.dumps(figures)}")


async def test_three_instances_of_each_service_through_a_broker_restart(
    stack: Stack, cluster: KafkaCluster, tmp_path: Path
) -> None:
    """Two more instances of each service join (rebalances) while the broker leading most
    partitions restarts (leaders and group coordinators move): the same guarantees, and
    /readyz sampled throughout; by the end every instance says ready, which it does only
    once it holds partitions."""
    async with failover_pipeline(stack, cluster, tmp_path) as pipeline:
        kafka = pipeline.kafka
        instances = [f"{s}#{n}" for s in SERVICE_NAMES for n in (2, 3)]
        traffic = Traffic(demo_traffic())

        async def restart_while_scaling() -> str:
            await traffic.reached(KILL_SHARE)
            leader = await leader_of_most_partitions(kafka)
            node = next(n for n in cluster.nodes if n.node_id == leader)
            await asyncio.to_thread(cluster.stop_node, node, signal.SIGTERM)
            for name in instances:
                pipeline.start(name, wait=False)
            await traffic.reached(RESTART_SHARE)
            await asyncio.to_thread(cluster.start_node, node)
            return (
                f"SIGTERM broker {leader} after {KILL_SHARE:.0%} of the traffic while 6"
                f" instances joined, restarted after {RESTART_SHARE:.0%}"
            )

        answers: Counter[str] = Counter()
        done = asyncio.Event()

        async def sample_readiness() -> None:
            while not done.is_set():
                for name in list(pipeline.procs):
                    answer = await asyncio.to_thread(pipeline.ready, name)
                    answers[{True: "ready", False: "not_ready", None: "no_answer"}[answer]] += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(done.wait(), 1)

        sampler = asyncio.create_task(sample_readiness())
        try:
            contacts, what = await asyncio.gather(
                publish_on_time(kafka, traffic), restart_while_scaling()
            )
            figures = await outcome(pipeline, contacts, what)
            for name in pipeline.procs:
                await asyncio.to_thread(pipeline.wait_ready, name, 90)
        finally:
            done.set()
            await sampler
        figures["instances"] = len(pipeline.procs)
        figures["readyz_samples"] = dict(answers)
    print(f"failover: {json.dumps(figures)}")
