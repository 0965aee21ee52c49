"""Prometheus: scrape configs, alert and recording rules, and their promtool unit tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from switchboard_runtime.service import registered
from switchboard_runtime.testing import eventually
from tests.deploy.prometheus_server import query, running_prometheus
from tests.deploy.support import PROMETHEUS_DIR, load_yaml, promtool

RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
TEST_FILES = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))

REQUIRED_ALERTS = {
    "SwitchboardServiceLevelBelowTarget",
    "SwitchboardBreachRateSpike",
    "SwitchboardConsumerLagGrowing",
    "SwitchboardDeadLetters",
    "SwitchboardServiceDown",
    "SwitchboardConsumerStalled",
    "SwitchboardRoutingLatencyHigh",
}
"""The issue's list: service level below target, breach rate spike, lag growing, dead
letters appearing, a service down or not ready, routing latency high."""


def _alerts() -> dict[str, dict[str, Any]]:
    return {
        rule["alert"]: rule
        for path in RULE_FILES
        for group in load_yaml(path)["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }


def test_scrape_configs_are_valid() -> None:
    promtool("check", "config", "prometheus.yml", "prometheus-local.yml", cwd=PROMETHEUS_DIR)


def test_local_config_scrapes_the_ports_of_make_run() -> None:
    config = load_yaml(PROMETHEUS_DIR / "prometheus-local.yml")
    targets = {
        job["job_name"]: [t for sc in job["static_configs"] for t in sc["targets"]]
        for job in config["scrape_configs"]
    }
    assert targets == {spec.name: [f"127.0.0.1:{spec.default_port}"] for spec in registered()}


def test_rules_are_valid() -> None:
    assert RULE_FILES
    promtool("check", "rules", *RULE_FILES)


def test_rule_unit_tests_pass() -> None:
    assert TEST_FILES
    promtool("test", "rules", *TEST_FILES, cwd=PROMETHEUS_DIR)


def test_the_required_alerts_exist_with_severity_and_description() -> None:
    alerts = _alerts()
    assert set(alerts) >= REQUIRED_ALERTS, REQUIRED_ALERTS - set(alerts)
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in ("warning", "critical"), name
        assert rule["annotations"]["summary"], name
        assert rule["annotations"]["description"], name


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    firing: set[str] = set()
    silent: set[str] = set()
    for path in TEST_FILES:
        for case in load_yaml(path)["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else silent).add(check["alertname"])
    alerts = set(_alerts())
    assert alerts - firing == set(), "alerts never tested firing"
    assert alerts - silent == set(), "alerts never tested not firing"


async def test_a_real_prometheus_loads_the_rules_and_scrapes(tmp_path: Path) -> None:
    """The helper that the end-to-end test uses starts Prometheus with the rules loaded."""
    with running_prometheus({}, tmp_path, interval_s=0.5) as url:
        target = await eventually(
            lambda: query(url, "switchboard:sla_service_level_target:ratio") or None,
            what="the recording rules evaluated",
        )
        assert float(target[0]["value"][1]) == pytest.approx(0.8)
