"""Every metric and label that the alert rules and dashboards query is one the runtime or a
service declares: a renamed metric or a dropped label fails here, not silently in Grafana."""

from __future__ import annotations

import re
from types import ModuleType

import pytest
from prometheus_client.metrics import MetricWrapperBase

import profile_lookup.metrics
import router.metrics
import sla_monitor.metrics
import switchboard_runtime.metrics
from tests.deploy.dashboards import panel_queries
from tests.deploy.support import PROMETHEUS_DIR, load_yaml

METRIC_MODULES: tuple[ModuleType, ...] = (
    switchboard_runtime.metrics,
    profile_lookup.metrics,
    router.metrics,
    sla_monitor.metrics,
)
TARGET_LABELS = frozenset({"job", "instance"})
"""Labels Prometheus attaches to every scraped series."""
BUILTIN: dict[str, frozenset[str]] = {
    "up": TARGET_LABELS,
    # prometheus_client's process collector, on Linux.
    "process_start_time_seconds": TARGET_LABELS,
}
SUFFIXES = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_count", "_sum")}

_NAME = re.compile(r"(?<![\w:])((?:switchboard_|process_)[a-z0-9_]+|up|[a-z_]+:[a-z0-9_:]+)\b")
_MATCHERS = re.compile(r"(?<![\w:])([a-z_][a-z0-9_:]*)\{([^}]*)\}")
_GROUPING = re.compile(r"\b(?:by|on|ignoring|without)\s*\(([^)]*)\)")


def _declared() -> dict[str, frozenset[str]]:
    """Sample name -> its labels, for every metric the Switchboard code declares."""
    samples = dict(BUILTIN)
    for module in METRIC_MODULES:
        for value in vars(module).values():
            if not isinstance(value, MetricWrapperBase):
                continue
            (family,) = value.describe()
            labels = frozenset(value._labelnames) | TARGET_LABELS  # no public accessor
            for suffix in SUFFIXES[family.type]:
                extra = {"le"} if suffix == "_bucket" else set()
                samples[family.name + suffix] = labels | extra
    return samples


def _recorded() -> dict[str, str]:
    return {
        rule["record"]: rule["expr"]
        for group in load_yaml(PROMETHEUS_DIR / "rules" / "switchboard.rules.yml")["groups"]
        for rule in group["rules"]
        if "record" in rule
    }


def _queries() -> list[object]:
    rules = [
        (f"rule {rule.get('alert') or rule.get('record')}", str(rule["expr"]))
        for group in load_yaml(PROMETHEUS_DIR / "rules" / "switchboard.rules.yml")["groups"]
        for rule in group["rules"]
    ]
    panels = [(f"{dashboard}: {title}", expr) for dashboard, title, expr in panel_queries()]
    return [pytest.param(where, expr, id=where) for where, expr in rules + panels]


def _labels_of(name: str, declared: dict[str, frozenset[str]]) -> frozenset[str]:
    """A recorded series has the labels of what it aggregates (roughly: the union)."""
    if name in declared:
        return declared[name]
    expr = _recorded()[name]
    return frozenset().union(*(_labels_of(n, declared) for n in _NAME.findall(expr)))


@pytest.mark.parametrize(("where", "expr"), _queries())
def test_queries_use_declared_metrics_and_labels(where: str, expr: str) -> None:
    declared = _declared()
    recorded = _recorded()
    names = set(_NAME.findall(expr))
    unknown = {n for n in names if n not in declared and n not in recorded}
    assert unknown == set(), f"{where}: no such metric: {sorted(unknown)}"
    available = frozenset().union(*(_labels_of(n, declared) for n in names))
    for metric, matchers in _MATCHERS.findall(expr):
        if metric in names:
            used = {m.split("=")[0].strip(" !~") for m in matchers.split(",") if m.strip()}
            missing = used - _labels_of(metric, declared)
            assert missing == set(), f"{where}: {metric} has no label {sorted(missing)}"
    for group in _GROUPING.findall(expr):
        used = {label.strip() for label in group.split(",") if label.strip()}
        missing = used - available
        assert missing == set(), f"{where}: no metric in it has label {sorted(missing)}"
