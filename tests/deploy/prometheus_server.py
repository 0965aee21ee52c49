"""A real Prometheus (what ensure-prometheus.sh builds, see support.prometheus_binary) for
tests: it scrapes the given targets with Switchboard's rules loaded, and answers PromQL over
its HTTP API.

    with running_prometheus({"router": "127.0.0.1:8102"}, tmp_path) as url:
        samples = query(url, "up")
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.support import PROMETHEUS_DIR, prometheus_binary

READY_TIMEOUT_S = 30.0


def scrape_config(targets: Mapping[str, str], interval_s: float = 1.0) -> dict[str, Any]:
    """One job per service (job name = service name, as the rules expect), rules loaded."""
    interval = f"{int(interval_s * 1000)}ms"
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(PROMETHEUS_DIR / "rules" / "*.yml")],
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [target]}]}
            for job, target in targets.items()
        ],
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_prometheus(
    targets: Mapping[str, str], workdir: Path, interval_s: float = 1.0
) -> Iterator[str]:
    """Start Prometheus on a free loopback port; yield its base URL; stop it at the end."""
    config = workdir / "prometheus.yml"
    config.write_text(yaml.safe_dump(scrape_config(targets, interval_s)))
    address = f"127.0.0.1:{_free_port()}"
    log = (workdir / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            str(prometheus_binary("prometheus")),
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address={address}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    url = f"http://{address}"
    try:
        _wait_ready(url, process, workdir / "prometheus.log")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited with {process.returncode}: {log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"prometheus at {url} not ready after {READY_TIMEOUT_S:.0f} s: see {log}")


def query(url: str, expr: str) -> list[dict[str, Any]]:
    """An instant query; the result's samples (`metric`, `value`), or RuntimeError."""
    with urllib.request.urlopen(
        f"{url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}", timeout=10
    ) as response:
        body = json.load(response)
    if body.get("status") != "success":
        raise RuntimeError(f"query {expr!r} failed: {body}")
    result: list[dict[str, Any]] = body["data"]["result"]
    return result
