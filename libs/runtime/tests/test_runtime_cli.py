"""Every service's command line, as the runtime builds it: the shared commands behave the
same in each installed service."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from switchboard_runtime.service import ServiceSpec, registered

SERVICES = registered()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # closed once the block ends: nothing listens there


def migrate(spec: ServiceSpec, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python -m <package> migrate` with `env` added; it must fail in one line."""
    done = subprocess.run(
        [sys.executable, "-m", spec.package, "migrate"],
        capture_output=True,
        text=True,
        env=os.environ | env,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    return done


def test_every_service_is_registered() -> None:
    assert {s.package for s in SERVICES} == {"profile_lookup", "router", "sla_monitor"}


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_an_unreachable_database_is_one_line(spec: ServiceSpec) -> None:
    # `serve` does not exit on an unreachable broker or database: it reports not-ready
    # and retries (test_host_startup); a one-off command says so in one line instead.
    port = closed_port()
    prefix = spec.env_prefix
    done = migrate(
        spec,
        {
            f"{prefix}DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:{port}/{spec.schema}",
            f"{prefix}KAFKA__BOOTSTRAP": f"127.0.0.1:{port}",
            f"{prefix}HTTP_PORT": "0",
        },
    )
    expected = f"{spec.package}: cannot reach PostgreSQL at 127.0.0.1:{port}/{spec.schema}: "
    assert done.stderr.splitlines()[-1].startswith(expected)


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_a_bad_setting_is_one_line_naming_it(spec: ServiceSpec) -> None:
    done = migrate(spec, {f"{spec.env_prefix}HTTP_PORT": "not-a-port"})
    assert f"{spec.env_prefix}HTTP_PORT" in done.stderr
