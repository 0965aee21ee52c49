"""The provisioned Grafana dashboards and the PromQL of every panel.

`panel_queries()` is what the end-to-end test queries against a real Prometheus scraping
the running services: every panel must return data while the demo traffic runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DASHBOARDS_DIR = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboards"


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS_DIR.glob("*.json"))


def load_dashboard(path: Path) -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(path.read_text())
    return dashboard


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    found: list[dict[str, Any]] = []
    for panel in dashboard.get("panels", []):
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def panel_queries() -> list[tuple[str, str, str]]:
    """(dashboard file stem, panel title, PromQL expression) for every panel target."""
    queries = []
    for path in dashboard_files():
        for panel in panels(load_dashboard(path)):
            for target in panel.get("targets", []):
                if target.get("expr"):
                    queries.append((path.stem, str(panel.get("title", "")), str(target["expr"])))
    return queries
