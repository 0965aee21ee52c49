"""deploy/Dockerfile and .dockerignore, read without a Docker engine: base image, locked
install, non-root user, healthcheck, and a build context that holds what the image copies."""

from __future__ import annotations

import fnmatch
import re
import sys
import tomllib

import pytest

from tests.deploy.support import DEPLOY, REPO, SPECS, run

DOCKERFILE = (DEPLOY / "Dockerfile").read_text()
INSTRUCTIONS = [
    line.strip()
    for line in re.sub(r"\\\n", " ", DOCKERFILE).splitlines()
    if line.strip() and not line.lstrip().startswith("#")
]


def _instructions(keyword: str) -> list[str]:
    return [line for line in INSTRUCTIONS if line.split()[0].upper() == keyword]


def _ignored(path: str) -> bool:
    """Docker's rule: the last .dockerignore pattern that matches a path (or a parent) wins."""
    ignored = False
    parts = path.strip("/").split("/")
    for raw in (REPO / ".dockerignore").read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        for depth in range(1, len(parts) + 1):
            candidate = "/".join(parts[:depth])
            if fnmatch.fnmatch(candidate, pattern) or (
                pattern.startswith("**/") and fnmatch.fnmatch(candidate, "*" + pattern[2:])
            ):
                ignored = not negate
                break
    return ignored


def test_base_image_is_python_3_11_slim() -> None:
    assert _instructions("FROM") == ["FROM python:3.11-slim"]


def test_installs_the_lock_with_hashes_then_the_workspace_members() -> None:
    runs = " ".join(_instructions("RUN"))
    assert "--require-hashes" in runs
    assert "-r /tmp/requirements.lock" in runs
    services = [p for p in sorted((REPO / "services").iterdir()) if p.is_dir()]
    # Every library a service depends on, as its pyproject.toml names it.
    libraries = {
        f"libs/{name.removeprefix('switchboard-')}"
        for service in services
        for name in tomllib.loads((service / "pyproject.toml").read_text())["project"][
            "dependencies"
        ]
        if name.startswith("switchboard-")
    }
    members = sorted(libraries) + [f"services/{p.name}" for p in services]
    for member in members:
        assert f"-e {member}" in runs, f"{member} is not installed"


def test_runs_as_a_non_root_user() -> None:
    (user,) = _instructions("USER")
    name = user.split()[1].split(":")[0]
    assert name not in ("root", "0"), user


def test_healthcheck_gets_healthz_with_python() -> None:
    (check,) = _instructions("HEALTHCHECK")
    assert "python" in check
    assert "/healthz" in check


def test_the_build_context_holds_every_copied_path() -> None:
    copies = _instructions("COPY")
    assert copies
    for copy in copies:
        source = copy.split()[1]
        assert (REPO / source).exists(), f"{copy}: {source} is missing"
        assert not _ignored(source), f"{copy}: .dockerignore excludes {source}"


def test_the_build_context_leaves_out_local_state() -> None:
    for path in (".venv", ".git", ".run", "tests", "services/router/tests", "deploy"):
        assert _ignored(path), f"{path} would be sent to the Docker daemon"


@pytest.mark.parametrize("module", sorted(SPECS))
def test_the_service_modules_offer_the_shared_commands(module: str) -> None:
    """The image runs `python -m <module>` (`serve` by default); the compose jobs and the
    Kubernetes Job run `migrate`; `check` and `explain` are every service's too."""
    result = run([sys.executable, "-m", module, "--help"])
    assert result.returncode == 0, f"python -m {module} --help: {result.stderr[-500:]}"
    choices = re.search(r"\{([a-z,-]+)\}", result.stdout)
    assert choices, f"python -m {module} --help lists no subcommands:\n{result.stdout}"
    assert {"serve", "migrate", "check", "explain"} <= set(choices[1].split(",")), module
