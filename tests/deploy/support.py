"""Shared by the deploy tests: paths, YAML loading, the Prometheus binaries, settings checks."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from profile_lookup.config import ProfilesSettings
from router.config import RouterSettings
from sla_monitor.config import SlaSettings
from switchboard_events.topics import ALL_TOPICS
from switchboard_runtime.settings import ServiceSettings, load_settings

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPOSE_FILE = REPO / "docker-compose.yml"
PROMETHEUS_DIR = DEPLOY / "prometheus"
GRAFANA_DIR = DEPLOY / "grafana"
K8S_DIR = DEPLOY / "k8s"
VENV_BIN = Path(sys.executable).parent
PROMETHEUS_BIN = REPO / ".venv" / "tools" / "prometheus" / "bin"
ENSURE_PROMETHEUS = "deploy/scripts/ensure-prometheus.sh"

SETTINGS_BY_MODULE: dict[str, type[ServiceSettings]] = {
    "profile_lookup": ProfilesSettings,
    "router": RouterSettings,
    "sla_monitor": SlaSettings,
}
"""The service that `python -m <module>` runs, and the settings model it reads."""

SERVICE_JOBS = {
    "profile_lookup": "profile-lookup",
    "router": "router",
    "sla_monitor": "sla-monitor",
}
"""Prometheus job (and compose service, Kubernetes Deployment) name of each module."""


def expected_topics() -> list[str]:
    """Every topic and the dead-letter twin of every consumed one, as `make run` creates them."""
    names = [spec.name for spec in ALL_TOPICS]
    return names + [spec.dlq for spec in ALL_TOPICS if spec.dlq]


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def load_yaml_documents(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def prometheus_binary(name: str) -> Path:
    """`promtool` or `prometheus` from .venv/tools/prometheus; fails (never skips) without it."""
    path = PROMETHEUS_BIN / name
    if not os.access(path, os.X_OK):
        pytest.fail(
            f"{name} is missing: expected an executable at {path}. Run `{ENSURE_PROMETHEUS}`"
            " (it builds Prometheus there from source with a Go toolchain that pip installs,"
            " nothing system-wide; `make test` runs it first)",
            pytrace=False,
        )
    return path


def run(args: Sequence[str | Path], cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def promtool(*args: str | Path, cwd: Path = REPO) -> str:
    """Run promtool; fail the test with its output unless it exits 0."""
    result = run([prometheus_binary("promtool"), *args], cwd=cwd)
    output = result.stdout + result.stderr
    if result.returncode != 0:
        pytest.fail(f"promtool {' '.join(map(str, args))} exited {result.returncode}:\n{output}")
    return output


def module_of(command: object) -> str | None:
    """The service module a container command runs (`python -m <module> ...`), if any."""
    if not isinstance(command, list):
        return None
    words = [str(word) for word in command]
    for i, word in enumerate(words[:-1]):
        if word == "-m" and words[i + 1] in SETTINGS_BY_MODULE:
            return words[i + 1]
    return None


def _nested_model(annotation: object) -> type[BaseModel] | None:
    candidates = typing.get_args(annotation) if _is_union(annotation) else (annotation,)
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _is_union(annotation: object) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def unknown_settings(cls: type[ServiceSettings], names: Iterable[str]) -> list[str]:
    """What is wrong with these environment variable names for `cls`: wrong prefix, or a
    field path (`<PREFIX>A__B` is field a, nested field b) that the model does not have."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    delimiter = str(cls.model_config.get("env_nested_delimiter") or "__")
    problems = []
    for name in names:
        if not name.startswith(prefix):
            problems.append(f"{name}: not a {cls.__name__} variable (expected prefix {prefix})")
            continue
        path = name[len(prefix) :].lower().split(delimiter)
        model: type[BaseModel] = cls
        for depth, part in enumerate(path):
            field = model.model_fields.get(part)
            where = ".".join(path[: depth + 1])
            if field is None:
                known = ", ".join(sorted(model.model_fields))
                problems.append(f"{name}: {cls.__name__} has no setting {where} (known: {known})")
                break
            if depth < len(path) - 1:
                nested = _nested_model(field.annotation)
                if nested is None:
                    problems.append(f"{name}: {where} is not a group of nested settings")
                    break
                model = nested
    return problems


def settings_from(
    cls: type[ServiceSettings], env: Mapping[str, str], monkeypatch: pytest.MonkeyPatch
) -> ServiceSettings:
    """Build `cls` from exactly `env` (other variables of its prefix removed)."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    for name in list(os.environ):
        if name.upper().startswith(prefix):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_settings(cls)


_INTERPOLATION = re.compile(r"\$(?:\$|\{(?P<braced>[^}]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")
_BRACED = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>.*))?$", re.S)


def interpolations(value: str) -> list[str]:
    """The `${...}` / `$VAR` expressions in a compose value (`$$` is a literal `$`)."""
    found = []
    for match in _INTERPOLATION.finditer(value):
        if match.group(0) != "$$":
            found.append(match.group("braced") or match.group("bare") or "")
    return found


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Compose's variable interpolation (the forms the spec defines) against `env`."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        if match.group("bare"):
            return env.get(match.group("bare"), "")
        parsed = _BRACED.match(match.group("braced") or "")
        if parsed is None:
            raise ValueError(f"invalid interpolation {match.group(0)!r} in {value!r}")
        name, op, arg = parsed.group("name"), parsed.group("op"), parsed.group("arg") or ""
        current = env.get(name)
        # With a colon, an empty value counts as unset too.
        unset = not current if op in (":-", ":?") else current is None
        if op in (":-", "-"):
            return arg if unset else str(current)
        if op in (":?", "?"):
            if unset:
                raise ValueError(f"{name} is required: {arg}")
            return str(current)
        if op in (":+", "+"):
            return "" if unset else arg
        return current or ""

    return _INTERPOLATION.sub(replace, value)
