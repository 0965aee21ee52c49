"""docker-compose.yml and the Kubernetes notes agree with the Apache Kafka test harness
(switchboard_runtime.apache_kafka): the broker settings, the topics' partitions and
replication. Compose runs one broker, as the functional suites do; Kubernetes expects a
cluster like the three-broker one of the failover tests."""

from __future__ import annotations

from typing import Any

from switchboard_events.topics import DEFAULT_PARTITIONS
from switchboard_runtime.apache_kafka import KafkaCluster
from switchboard_runtime.settings import KafkaSettings
from tests.deploy.support import COMPOSE_FILE, DEPLOY, K8S_DIR, REPO, load_yaml

POM = REPO / "deploy" / "kafka" / "pom.xml"
COMPOSE: dict[str, Any] = load_yaml(COMPOSE_FILE)
KUSTOMIZATION: dict[str, Any] = load_yaml(K8S_DIR / "kustomization.yaml")


def _compose_broker() -> dict[str, str]:
    """The compose broker's settings, named as in server.properties (KAFKA_A_B -> a.b)."""
    env = COMPOSE["services"]["kafka"]["environment"]
    return {
        name.removeprefix("KAFKA_").lower().replace("_", "."): str(value)
        for name, value in env.items()
        if name.startswith("KAFKA_")
    }


def _kafka_literals() -> dict[str, str]:
    [spec] = [g for g in KUSTOMIZATION["configMapGenerator"] if g["name"] == "switchboard-kafka"]
    return dict(str(literal).split("=", 1) for literal in spec["literals"])


def test_the_compose_broker_has_the_single_node_harness_settings() -> None:
    harness = KafkaCluster(POM, size=1).broker_settings()
    broker = _compose_broker()
    assert {key: broker.get(key) for key in harness} == harness


def test_the_compose_topics_have_the_harness_partitions_and_replication() -> None:
    env = COMPOSE["services"]["topics"]["environment"]
    harness = KafkaCluster(POM, size=1)
    assert (
        int(env["PARTITIONS"])
        == DEFAULT_PARTITIONS
        == int(harness.broker_settings()["num.partitions"])
    )
    assert int(env["REPLICATION_FACTOR"]) == harness.client_settings().replication_factor
    assert KafkaSettings().partitions == DEFAULT_PARTITIONS, "what the tools create"


def test_kubernetes_expects_the_three_broker_harness_settings() -> None:
    three = KafkaCluster(POM, size=3)
    assert (
        int(_kafka_literals()["replication-factor"]) == three.client_settings().replication_factor
    )
    notes = (DEPLOY / "README.md").read_text()
    settings = three.broker_settings()
    for key in (
        "default.replication.factor",
        "min.insync.replicas",
        "unclean.leader.election.enable",
        "auto.create.topics.enable",
    ):
        assert f"`{key}={settings[key]}`" in notes, f"deploy/README.md: {key}={settings[key]}"
    assert (
        f"{DEFAULT_PARTITIONS} partitions and replication factor {settings['default.replication.factor']}"
        in notes
    )
