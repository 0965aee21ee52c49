"""Registers the router's fixtures (defined in router_fixtures.py, type-checked there)."""

from router_fixtures import fake, policy_path, run_router, setup

__all__ = ["fake", "policy_path", "run_router", "setup"]
