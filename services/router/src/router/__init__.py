"""The router: decides the queue and priority of every enriched contact, by policy."""

from pathlib import Path

SERVICE_DIR = Path(__file__).resolve().parents[2]
DEFAULT_POLICY = SERVICE_DIR / "policies" / "routing.yaml"
MIGRATIONS = SERVICE_DIR / "migrations"
SCHEMA = "routing"
