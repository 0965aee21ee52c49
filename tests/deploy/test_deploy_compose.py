"""docker-compose.yml, checked without a Docker engine: the Compose specification, the
files it references, each service's environment against its settings model, the topics
and the start-up order."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from switchboard_events.topics import DEFAULT_PARTITIONS
from tests.deploy.support import (
    COMPOSE_FILE,
    PROMETHEUS_DIR,
    REPO,
    SPECS,
    VENV_BIN,
    expected_topics,
    interpolate,
    interpolations,
    load_yaml,
    module_of,
    run,
    settings_from,
    unknown_settings,
)

COMPOSE: dict[str, Any] = load_yaml(COMPOSE_FILE)
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]


def _env(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as compose passes it with no .env file and nothing exported."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {name: interpolate(str(value), {}) for name, value in env.items()}


def _app_services() -> dict[str, str]:
    """Compose service -> module, for the long-running Switchboard services (not jobs)."""
    return {
        name: module
        for name, service in SERVICES.items()
        if (module := module_of(service.get("command"))) and "migrate" not in service["command"]
    }


def _bind_mounts(service: dict[str, Any]) -> list[tuple[Path, PurePosixPath]]:
    """(host path, container path) of each bind mount (short syntax `./src:/dst[:ro]`)."""
    mounts = []
    for volume in service.get("volumes", []):
        source, target = str(volume).split(":")[:2]
        if source.startswith((".", "/")):
            mounts.append(((REPO / source).resolve(), PurePosixPath(target)))
    return mounts


def test_compose_file_follows_the_compose_specification() -> None:
    result = run(
        [VENV_BIN / "check-jsonschema", "--builtin-schema", "vendor.compose-spec", COMPOSE_FILE]
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _strings(node: object) -> list[str]:
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in (*_strings(key), *_strings(value))]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    return [node] if isinstance(node, str) else []


def test_every_variable_has_a_default_so_no_env_file_is_needed() -> None:
    found = [expr for value in _strings(COMPOSE) for expr in interpolations(value)]
    assert found, "expected variables such as ${POSTGRES_PASSWORD:-...}"
    bare = [expr for expr in found if not any(op in expr for op in ("-", "?"))]
    assert bare == [], f"variables without a default (compose would use ''): {bare}"


def test_the_image_build_context_and_dockerfile_exist() -> None:
    builds = [s["build"] for s in SERVICES.values() if "build" in s]
    assert builds, "no service builds the Switchboard image"
    for build in builds:
        context = (REPO / build["context"]).resolve()
        assert context == REPO, f"build from the repository root, not {context}"
        assert (context / build["dockerfile"]).is_file(), build


def test_every_bind_mounted_file_exists() -> None:
    for name, service in SERVICES.items():
        for source, target in _bind_mounts(service):
            assert source.exists(), f"{name}: {source} (mounted at {target}) does not exist"


def test_container_paths_in_the_environment_point_into_mounted_files() -> None:
    """A setting like ROUTER_POLICY_PATH=/etc/switchboard/router/routing.yaml names a file
    that a bind mount provides (else the service starts with a missing file)."""
    checked = 0
    for name, service in SERVICES.items():
        mounts = _bind_mounts(service)
        for var, value in _env(service).items():
            if not value.startswith("/etc/"):
                continue
            path = PurePosixPath(value)
            hosts = [src / path.relative_to(dst) for src, dst in mounts if path.is_relative_to(dst)]
            assert hosts, f"{name}: {var}={value} is not inside any bind mount"
            assert hosts[0].exists(), f"{name}: {var}={value} is {hosts[0]}, which is missing"
            checked += 1
    assert checked >= 3, "expected the two policy paths and Grafana's home dashboard"


@pytest.mark.parametrize(
    "service", sorted(n for n in SERVICES if module_of(SERVICES[n].get("command")))
)
def test_environment_matches_the_settings_model(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = module_of(SERVICES[service]["command"])
    assert module is not None
    cls = SPECS[module].settings
    env = _env(SERVICES[service])
    assert env, f"{service} sets no environment"
    assert unknown_settings(cls, env) == []
    # The values are valid too: the settings build from them as the service would.
    settings = settings_from(cls, env, monkeypatch)
    assert settings.database_url.get_secret_value().startswith("postgresql+asyncpg://")


def test_topics_job_creates_every_topic_and_dead_letter_twin() -> None:
    job = SERVICES["topics"]
    env = _env(job)
    assert sorted(env["TOPICS"].split()) == sorted(expected_topics())
    assert int(env["PARTITIONS"]) == DEFAULT_PARTITIONS
    assert job["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_each_service_has_its_migration_job() -> None:
    for name, module in _app_services().items():
        jobs = [
            job
            for job, spec in SERVICES.items()
            if module_of(spec.get("command")) == module and "migrate" in spec["command"]
        ]
        assert len(jobs) == 1, f"{name}: expected one `python -m {module} migrate` job: {jobs}"
        assert SERVICES[jobs[0]]["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert SERVICES[name]["depends_on"][jobs[0]]["condition"] == (
            "service_completed_successfully"
        )


def test_services_start_after_healthy_broker_database_and_topics() -> None:
    assert set(_app_services()) == {spec.name for spec in SPECS.values()}
    for name in _app_services():
        depends = SERVICES[name]["depends_on"]
        assert depends["kafka"]["condition"] == "service_healthy", name
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["topics"]["condition"] == "service_completed_successfully", name
        assert "healthcheck" in SERVICES[name], f"{name} has no healthcheck"


def test_dependency_conditions_can_be_met() -> None:
    """service_healthy needs a healthcheck; service_completed_successfully a one-off job."""
    for name, service in SERVICES.items():
        for dependency, spec in (service.get("depends_on") or {}).items():
            target = SERVICES[dependency]
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in target, f"{name} waits for {dependency}'s health"
            if spec["condition"] == "service_completed_successfully":
                assert target.get("restart") == "no", f"{dependency} must be a one-off job"


def test_services_listen_where_prometheus_scrapes_them() -> None:
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    targets = {
        job["job_name"]: [t for sc in job["static_configs"] for t in sc["targets"]]
        for job in config["scrape_configs"]
    }
    for name, module in _app_services().items():
        prefix = SPECS[module].env_prefix
        env = _env(SERVICES[name])
        assert env[f"{prefix}HTTP_HOST"] == "0.0.0.0", f"{name} must listen on all interfaces"
        port = env[f"{prefix}HTTP_PORT"]
        assert targets[SPECS[module].name] == [f"{name}:{port}"]


def test_grafana_gets_the_provisioning_and_dashboards() -> None:
    mounts = {str(dst): src for src, dst in _bind_mounts(SERVICES["grafana"])}
    assert mounts["/etc/grafana/provisioning"] == REPO / "deploy/grafana/provisioning"
    provider = load_yaml(REPO / "deploy/grafana/provisioning/dashboards/switchboard.yml")
    path = provider["providers"][0]["options"]["path"]
    assert mounts[path] == REPO / "deploy/grafana/dashboards"


def test_prometheus_gets_its_config_and_rules() -> None:
    mounts = {str(dst): src for src, dst in _bind_mounts(SERVICES["prometheus"])}
    config = mounts["/etc/prometheus/prometheus.yml"]
    assert config == PROMETHEUS_DIR / "prometheus.yml"
    for pattern in load_yaml(config)["rule_files"]:
        in_container = PurePosixPath("/etc/prometheus") / pattern
        assert mounts[str(in_container.parent)] == PROMETHEUS_DIR / "rules"
