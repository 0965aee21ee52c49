"""deploy/k8s: every manifest valid against the Kubernetes schemas (strict), probes and
resources on every container, autoscaling bounded by the partitions, selectors that match,
settings that exist, and Secrets referenced but never committed with values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest

from router.policies import compile_file, vendors
from switchboard_events.topics import DEFAULT_PARTITIONS
from tests.deploy.support import (
    K8S_DIR,
    REPO,
    SPECS,
    load_yaml,
    load_yaml_documents,
    module_of,
    unknown_settings,
)

KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
"""The oldest Kubernetes we support and the newest that kubernetes-validate knows."""

KUSTOMIZATION: dict[str, Any] = load_yaml(K8S_DIR / "kustomization.yaml")
EXAMPLE_SECRETS = K8S_DIR / "secrets.example.yaml"
MANIFESTS = sorted(K8S_DIR / name for name in KUSTOMIZATION["resources"])
DOCS: list[dict[str, Any]] = [doc for path in MANIFESTS for doc in load_yaml_documents(path)]


def _generated_config_maps() -> list[dict[str, Any]]:
    """The ConfigMaps that kustomize's configMapGenerator makes, as kustomize would."""
    maps = []
    for spec in KUSTOMIZATION["configMapGenerator"]:
        data = {}
        for entry in spec.get("files", []):
            key, _, source = entry.partition("=")
            data[key] = (K8S_DIR / source).read_text()
        for literal in spec.get("literals", []):
            key, _, value = literal.partition("=")
            data[key] = value
        maps.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": spec["name"], "namespace": KUSTOMIZATION["namespace"]},
                "data": data,
            }
        )
    return maps


def _of_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for doc in DOCS if doc["kind"] == kind]


def _pod_specs() -> list[tuple[str, dict[str, Any]]]:
    return [
        (doc["metadata"]["name"], doc["spec"]["template"]["spec"])
        for doc in DOCS
        if doc["kind"] in ("Deployment", "Job")
    ]


def _containers() -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{name}/{container['name']}", container)
        for name, spec in _pod_specs()
        for container in (*spec.get("initContainers", []), *spec["containers"])
    ]


def _label_id(doc: dict[str, Any]) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


def test_every_manifest_file_is_deployed_except_the_secret_example() -> None:
    on_disk = {p.name for p in K8S_DIR.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(KUSTOMIZATION["resources"]) == on_disk - {EXAMPLE_SECRETS.name}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_manifest_is_valid_against_the_kubernetes_schemas(version: str) -> None:
    documents = [*DOCS, *_generated_config_maps(), *load_yaml_documents(EXAMPLE_SECRETS)]
    kinds = {doc["kind"] for doc in documents}
    assert {"Namespace", "ConfigMap", "Deployment", "Service"} <= kinds
    assert {"HorizontalPodAutoscaler", "PodDisruptionBudget", "Job"} <= kinds
    for doc in documents:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{_label_id(doc)} is invalid for Kubernetes {version}: {exc}")


def test_a_deployment_service_autoscaler_and_budget_per_service() -> None:
    for kind in ("Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"):
        names = sorted(doc["metadata"]["name"] for doc in _of_kind(kind))
        assert names == sorted(spec.name for spec in SPECS.values()), kind


def test_every_container_has_probes_and_resources() -> None:
    for deployment in _of_kind("Deployment"):
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            where = f"{deployment['metadata']['name']}/{container['name']}"
            ports = {port["name"]: port["containerPort"] for port in container["ports"]}
            probes = {
                "livenessProbe": "/healthz",
                "readinessProbe": "/readyz",
            }
            for probe, path in probes.items():
                http = container[probe]["httpGet"]
                assert http["path"] == path, f"{where}: {probe} must GET {path}"
                assert http["port"] in ports or http["port"] in ports.values(), where
    for where, container in _containers():
        resources = container["resources"]
        for part in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources[part]), f"{where}: {part}"


def test_autoscalers_stay_within_the_partition_count() -> None:
    deployments = {doc["metadata"]["name"] for doc in _of_kind("Deployment")}
    for hpa in _of_kind("HorizontalPodAutoscaler"):
        spec = hpa["spec"]
        assert spec["scaleTargetRef"]["kind"] == "Deployment"
        assert spec["scaleTargetRef"]["name"] in deployments
        assert 1 <= spec["minReplicas"] <= spec["maxReplicas"] <= DEFAULT_PARTITIONS, _label_id(hpa)


def test_selectors_match_the_pods_they_are_for() -> None:
    pods = {
        doc["metadata"]["name"]: doc["spec"]["template"]["metadata"]["labels"]
        for doc in _of_kind("Deployment")
    }
    for deployment in _of_kind("Deployment"):
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector.items() <= pods[deployment["metadata"]["name"]].items()
    for doc in _of_kind("Service") + _of_kind("PodDisruptionBudget"):
        selector = doc["spec"]["selector"]
        selector = selector.get("matchLabels", selector)
        matched = [name for name, labels in pods.items() if selector.items() <= labels.items()]
        assert matched == [doc["metadata"]["name"]], f"{_label_id(doc)} selects {matched}"


def test_container_environment_matches_the_settings_model() -> None:
    seen = set()
    for where, container in _containers():
        if container["image"] != "switchboard":
            continue  # Kafka's own tools (the ACL job) take no Switchboard settings
        module = module_of(container.get("args") or container.get("command"))
        assert module is not None, f"{where} runs no Switchboard service"
        seen.add(module)
        names = [var["name"] for var in container.get("env", [])]
        assert unknown_settings(SPECS[module].settings, names) == [], where
    assert seen == set(SPECS)


def test_services_run_in_production_mode_with_authenticated_kafka_and_admin_tokens() -> None:
    for deployment in _of_kind("Deployment"):
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        module = module_of(container["args"])
        assert module is not None
        prefix = SPECS[module].env_prefix
        env = {var["name"]: var for var in container["env"]}
        assert env[f"{prefix}ENVIRONMENT"]["value"] == "production"
        for secret in ("DATABASE_URL", "KAFKA__SASL_PASSWORD", "AUTH__TOKENS"):
            assert "secretKeyRef" in env[prefix + secret]["valueFrom"], f"{prefix}{secret}"


def test_config_references_resolve() -> None:
    """Every ConfigMap key, ConfigMap volume and policy path that a pod uses exists."""
    maps = {cm["metadata"]["name"]: cm["data"] for cm in _generated_config_maps()}
    for name, spec in _pod_specs():
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for container in (*spec.get("initContainers", []), *spec["containers"]):
            for var in container.get("env", []):
                ref = var.get("valueFrom", {}).get("configMapKeyRef")
                if ref:
                    assert ref["key"] in maps[ref["name"]], f"{name}: {var['name']}"
            mounts = {m["mountPath"]: volumes[m["name"]] for m in container.get("volumeMounts", [])}
            for var in container.get("env", []):
                if not var["name"].endswith("_POLICY_PATH"):
                    continue
                path = Path(var["value"])
                volume = mounts[str(path.parent)]
                assert path.name in maps[volume["configMap"]["name"]], f"{name}: {var['name']}"


def test_policy_config_maps_are_the_files_the_services_ship() -> None:
    files = {
        (K8S_DIR / entry.partition("=")[2]).resolve()
        for spec in KUSTOMIZATION["configMapGenerator"]
        for entry in spec.get("files", [])
    }
    assert files == {
        REPO / "services/router/policies/routing.yaml",
        REPO / "services/sla-monitor/policies/sla.yaml",
        REPO / "deploy/kafka/acls.sh",
    }


def test_the_acl_job_grants_every_vendor_of_the_routing_policy() -> None:
    policy = compile_file(REPO / "services/router/policies/routing.yaml")
    literals = dict(
        entry.split("=", 1)
        for spec in KUSTOMIZATION["configMapGenerator"]
        if spec["name"] == "switchboard-kafka"
        for entry in spec["literals"]
    )
    assert literals["vendors"].split() == vendors(policy)


def test_secrets_are_referenced_not_committed() -> None:
    assert all(doc["kind"] != "Secret" for doc in DOCS), "a Secret is part of the deployment"
    examples = {
        doc["metadata"]["name"]: doc["stringData"] for doc in load_yaml_documents(EXAMPLE_SECRETS)
    }
    for name, spec in _pod_specs():
        for container in (*spec.get("initContainers", []), *spec["containers"]):
            for var in container.get("env", []):
                ref = var.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in examples.get(ref["name"], {}), f"{name}: {ref}"
    for name, data in examples.items():
        for key, value in data.items():
            if "password" in key or "key" in key or key.endswith("url"):
                assert "REPLACE_ME" in value, f"{name}.{key} looks like a real secret"
