"""Grafana: the provisioning files and the dashboards, whose every PromQL parses."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.deploy.dashboards import dashboard_files, load_dashboard, panel_queries, panels
from tests.deploy.support import GRAFANA_DIR, load_yaml, promtool

EXPECTED = {"overview", "pipeline", "inhouse-vs-outsourced"}


def _datasource_uid() -> str:
    config = load_yaml(GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml")
    (source,) = config["datasources"]
    assert source["type"] == "prometheus"
    return str(source["uid"])


def test_the_dashboards_exist_with_unique_uids() -> None:
    assert {path.stem for path in dashboard_files()} == EXPECTED
    uids = [load_dashboard(path)["uid"] for path in dashboard_files()]
    assert len(set(uids)) == len(uids), uids


def test_every_panel_queries_the_provisioned_prometheus() -> None:
    uid = _datasource_uid()
    for path in dashboard_files():
        dashboard = load_dashboard(path)
        ids = [panel["id"] for panel in panels(dashboard)]
        assert len(set(ids)) == len(ids), f"{path.name}: duplicate panel ids {ids}"
        for panel in panels(dashboard):
            where = f"{path.name}: panel {panel.get('title')!r}"
            targets = panel.get("targets", [])
            assert targets, f"{where} has no target"
            assert all(t.get("expr") for t in targets), f"{where} has a target without expr"
            assert panel.get("datasource", {}).get("uid") == uid, f"{where}: datasource"
            assert all(t.get("datasource", {}).get("uid") == uid for t in targets), where


def test_the_queries_use_no_grafana_variables() -> None:
    """The end-to-end test sends them to Prometheus as they are."""
    for dashboard, title, expr in panel_queries():
        assert "$" not in expr, f"{dashboard}: {title!r}: {expr}"


def test_every_panel_query_parses(tmp_path: Path) -> None:
    """promtool parses PromQL offline when the expressions are recording rules."""
    queries = panel_queries()
    rules = [
        {"record": f"dashboard_query_{i}", "expr": expr} for i, (_, _, expr) in enumerate(queries)
    ]
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    output = promtool("check", "rules", path)
    assert f"SUCCESS: {len(queries)} rules found" in output, output


def test_the_provider_loads_every_dashboard_file() -> None:
    provider = load_yaml(GRAFANA_DIR / "provisioning" / "dashboards" / "switchboard.yml")
    (entry,) = provider["providers"]
    assert entry["type"] == "file"
    assert entry["options"]["path"] == "/etc/grafana/dashboards"
