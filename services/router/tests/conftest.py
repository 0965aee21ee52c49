"""Registers the router's fixtures (defined in router_fixtures.py, type-checked there)."""

from router_fixtures import (
    client,
    empty_database,
    fake,
    policies,
    policy_path,
    run_router,
    setup,
)

__all__ = ["client", "empty_database", "fake", "policies", "policy_path", "run_router", "setup"]
