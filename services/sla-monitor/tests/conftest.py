"""Registers sla-monitor's fixtures (defined in sla_fixtures.py, type-checked there)."""

from sla_fixtures import database, rig, store_session

__all__ = ["database", "rig", "store_session"]
