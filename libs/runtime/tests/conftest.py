"""Registers the runtime tests' fixtures (defined in runtime_fixtures.py, type-checked there)."""

from runtime_fixtures import echo, run_in_process, start_process

__all__ = ["echo", "run_in_process", "start_process"]
