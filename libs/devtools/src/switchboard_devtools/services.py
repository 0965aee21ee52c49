"""The services the local stack starts: every installed one's record, and its environment."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from switchboard_runtime.auth import Scope
from switchboard_runtime.service import ServiceSpec, registered

REPO = Path(__file__).resolve().parents[4]


def services() -> list[ServiceSpec]:
    """Every installed service, in pipeline order; `make run` starts each of them."""
    return registered()


def service_env(
    spec: ServiceSpec, database_url: str, bootstrap: str, admin_token_hash: str | None = None
) -> dict[str, str]:
    """The service's environment; with `admin_token_hash`, one admin token of every scope."""
    p = spec.env_prefix
    env = {
        f"{p}DATABASE_URL": database_url,
        f"{p}KAFKA__BOOTSTRAP": bootstrap,
        f"{p}HTTP_PORT": str(spec.default_port),
    }
    if admin_token_hash is not None:
        token = {"name": "make-run", "sha256": admin_token_hash, "scopes": list(Scope)}
        env[f"{p}AUTH__TOKENS"] = json.dumps([token])
    return env


def command(spec: ServiceSpec, *args: str) -> list[str]:
    """`python -m <package> ARGS...` in this environment (`serve` when no ARGS)."""
    return [sys.executable, "-m", spec.package, *(args or ("serve",))]
