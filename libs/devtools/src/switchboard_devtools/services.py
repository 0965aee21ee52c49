"""The services the local stack knows how to start, and the environment each one gets."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

from switchboard_runtime.auth import Scope

REPO = Path(__file__).resolve().parents[4]


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    env_prefix: str
    schema: str
    http_port: int

    @property
    def migrations(self) -> Path:
        return REPO / "services" / self.name / "migrations"

    def exists(self) -> bool:
        """True once the service has an entry point (`python -m <module>`)."""
        return importlib.util.find_spec(f"{self.module}.__main__") is not None

    def env(
        self, database_url: str, bootstrap: str, admin_token_hash: str | None = None
    ) -> dict[str, str]:
        """The service's environment; with `admin_token_hash`, one admin token of every scope."""
        p = self.env_prefix
        env = {
            f"{p}DATABASE_URL": database_url,
            f"{p}KAFKA__BOOTSTRAP": bootstrap,
            f"{p}HTTP_PORT": str(self.http_port),
        }
        if admin_token_hash is not None:
            token = {"name": "make-run", "sha256": admin_token_hash, "scopes": list(Scope)}
            env[f"{p}AUTH__TOKENS"] = json.dumps([token])
        return env


SERVICES = (
    ServiceSpec("profile-lookup", "profile_lookup", "PROFILES_", "profiles", 8101),
    ServiceSpec("router", "router", "ROUTER_", "routing", 8102),
    ServiceSpec("sla-monitor", "sla_monitor", "SLA_", "sla", 8103),
)
