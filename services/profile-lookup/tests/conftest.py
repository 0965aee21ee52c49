"""Registers profile-lookup's fixtures (defined in profiles_fixtures.py, type-checked there)."""

from profiles_fixtures import client, engine, enricher, sessions, settings

__all__ = ["client", "engine", "enricher", "sessions", "settings"]
