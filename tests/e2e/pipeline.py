"""The three services as separate processes on the session's broker and database.

As `make run` runs them: `python -m <package> serve` with only the environment set, so the
end-to-end tests exercise the real entry points, settings, migrations and policies.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from switchboard_devtools.services import command, service_env
from switchboard_events.topics import ALL_TOPICS, dlq
from switchboard_runtime.auth import new_token
from switchboard_runtime.embedded import die_with_parent, free_port
from switchboard_runtime.service import ServiceSpec, find
from switchboard_runtime.settings import KafkaSettings

REPO = Path(__file__).resolve().parents[2]
SETTINGS: dict[str, dict[str, str]] = {
    # Scorecard gauges refreshed often, and first-contact resolution decided within the run.
    "sla-monitor": {"SLA_SCORECARD_REFRESH_S": "2", "SLA_FCR_WINDOW_S": "10"},
}


def topic_names() -> list[str]:
    names = [spec.name for spec in ALL_TOPICS]
    return names + [dlq(spec.name) for spec in ALL_TOPICS if spec.consumers]


@dataclass
class Pipeline:
    kafka: KafkaSettings
    database_url: str
    log_dir: Path
    ports: dict[str, int] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    # As `make run` does: one admin token of every scope; the services get its hash.
    admin_token: tuple[str, str] = field(default_factory=new_token)
    topic_suffix: str = ""  # appended to every topic name, for a run of its own
    # Environment per service name over SETTINGS, for a run that needs its own.
    settings: dict[str, dict[str, str]] = field(default_factory=dict)

    def spec(self, name: str) -> ServiceSpec:
        """`name` is a service's, or `<service>#<n>`: one more instance of it, same group."""
        service = name.partition("#")[0]
        return find(service)

    def port(self, name: str) -> int:
        return self.ports.setdefault(name, free_port())

    def env(self, name: str) -> dict[str, str]:
        spec = self.spec(name)
        port = self.port(name)
        env = service_env(spec, self.database_url, self.kafka.bootstrap, self.admin_token[1])
        return (
            dict(os.environ)
            | self.kafka.as_env(spec.env_prefix)
            | env
            | SETTINGS.get(spec.name, {})
            | self.settings.get(spec.name, {})
            | {f"{spec.env_prefix}HTTP_PORT": str(port)}
            | {f"{spec.env_prefix}TOPIC_SUFFIX": self.topic_suffix}
        )

    def admin_get(self, name: str, path: str, token: str | None) -> tuple[int, str]:
        """GET an admin route of a running service: (status, body)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        url = f"http://127.0.0.1:{self.ports[name]}{path}"
        request = urllib.request.Request(url, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def run_command(self, name: str, *args: str) -> str:
        result = subprocess.run(
            command(self.spec(name), *args),
            env=self.env(name),
            capture_output=True,
            text=True,
            cwd=REPO,
            check=False,
        )
        assert result.returncode == 0, f"{name} {args} failed:\n{result.stdout}{result.stderr}"
        return result.stdout

    def start(self, name: str, wait: bool = True) -> None:
        with open(self.log_dir / f"{name}.log", "ab") as log:
            self.procs[name] = subprocess.Popen(
                command(self.spec(name)),
                env=self.env(name),
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
                preexec_fn=die_with_parent(signal.SIGTERM),
            )
        if wait:
            self.wait_ready(name)

    def ready(self, name: str) -> bool | None:
        """What the instance's /readyz says now: True (200), False (503), None (no answer)."""
        url = f"http://127.0.0.1:{self.ports[name]}/readyz"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return bool(response.status == 200)
        except urllib.error.HTTPError as error:
            return False if error.code == 503 else None
        except OSError:
            return None

    def wait_ready(self, name: str, timeout: float = 60) -> None:
        url = f"http://127.0.0.1:{self.ports[name]}/readyz"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            proc = self.procs[name]
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode}: {self.log(name)}")
            with suppress(OSError), urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
            time.sleep(0.2)
        raise AssertionError(f"{name} not ready after {timeout:.0f} s: {self.log(name)}")

    def kill(self, name: str) -> None:
        """SIGKILL: no chance to finish the batch, commit or leave the group."""
        proc = self.procs[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def stop_all(self) -> dict[str, int]:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes = {}
        for name, proc in self.procs.items():
            try:
                codes[name] = proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                codes[name] = proc.wait()
        return codes

    def output(self, name: str) -> str:
        """Everything the instance (and its restarts) wrote to stdout and stderr."""
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def log(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return f"\n--- last lines of {path} ---\n" + "\n".join(text.splitlines()[-30:])
