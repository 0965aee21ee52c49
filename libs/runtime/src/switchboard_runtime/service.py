"""Each service declared once: the record its CLI, the dev tools, the deploy checks and
the test harness all read, instead of each keeping its own list of names and ports.

A service package names its record in its `pyproject.toml`:

    [project.entry-points."switchboard.services"]
    router = "router.config:SERVICE"

and `registered()` finds every installed one.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

from switchboard_runtime.settings import ServiceSettings

ENTRY_POINT_GROUP = "switchboard.services"


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    """Consumer group, log and metric label, `make` and compose name: `sla-monitor`."""
    package: str
    """`python -m <package>`: `sla_monitor`."""
    env_prefix: str
    """Its settings' environment prefix: `SLA_`."""
    schema: str
    """The PostgreSQL schema it owns, with its own migration history."""
    migrations: Path
    default_port: int
    consumes: tuple[str, ...]
    """Base topic names (without a deployment's suffix)."""
    produces: tuple[str, ...]
    settings: type[ServiceSettings]


def registered() -> list[ServiceSpec]:
    """Every installed service's record, in pipeline order (by default port)."""
    specs = []
    for point in entry_points(group=ENTRY_POINT_GROUP):
        spec = point.load()
        if not isinstance(spec, ServiceSpec):
            raise TypeError(f"entry point {point.value} is not a ServiceSpec")
        specs.append(spec)
    return sorted(specs, key=lambda s: s.default_port)


def find(name: str) -> ServiceSpec:
    """The installed service called `name` (or whose package is `name`)."""
    for spec in registered():
        if name in (spec.name, spec.package):
            return spec
    known = ", ".join(s.name for s in registered()) or "none"
    raise LookupError(f"no service named {name!r} is installed (installed: {known})")
