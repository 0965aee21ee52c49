"""Registers profile-lookup's fixtures (defined in profiles_fixtures.py, type-checked there)."""

from profiles_fixtures import client, customers, engine, enricher, sessions, settings

__all__ = ["client", "customers", "engine", "enricher", "sessions", "settings"]
