"""Registers sla-monitor's fixtures (defined in sla_fixtures.py, type-checked there)."""

from sla_fixtures import rig

__all__ = ["rig"]
