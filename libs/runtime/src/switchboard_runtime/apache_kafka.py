"""Apache Kafka in KRaft mode on loopback, from its jars: the broker users deploy on.

The jars come from an unpacked distribution (`KAFKA_HOME`, its `libs/`), or are fetched
once with Maven from a pinned `pom.xml` (deploy/kafka/pom.xml) into a per-user cache, so
later starts work offline. Each node is a combined broker+controller: one node for the
functional suites, three (replication 3, `min.insync.replicas=2`) for failover.

Like the embedded servers, every JVM is a child of this process that dies with it
(parent-death signal). Its data lives in a temporary directory that `close()` removes;
one left by a killed harness is removed by the next start.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka.errors import KafkaError

from switchboard_events.topics import DEFAULT_PARTITIONS
from switchboard_runtime.embedded import EmbeddedError, die_with_parent, free_port, stop_process
from switchboard_runtime.kafka import make_admin
from switchboard_runtime.settings import KAFKA_FETCH_MAX_WAIT_MS, KafkaSettings

JAVA_MIN = 17
SCRAM = "SCRAM-SHA-512"
DATA_PREFIX = "switchboard-kafka-"
FORMAT_TIMEOUT_S = 120
# Small and quick to start: C1 only, serial GC; enough heap for a test broker.
JVM_OPTIONS = (
    "-Xms128m",
    "-Xmx512m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Xshare:auto",
    "-Djava.awt.headless=true",
)
LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.target = {target}
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = {level}
rootLogger.appenderRef.out.ref = out
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
"""
# The brokers log INFO to their log file; the command-line tools only warnings, on stderr,
# so that their stdout is their answer alone.
BROKER_LOG4J2 = LOG4J2.format(target="SYSTEM_OUT", level="INFO")
TOOLS_LOG4J2 = LOG4J2.format(target="SYSTEM_ERR", level="WARN")


@dataclass(frozen=True)
class Distribution:
    """A Java runtime and the directory holding Kafka's jars."""

    java: Path
    libs: Path
    version: str

    @property
    def classpath(self) -> str:
        return str(self.libs / "*")

    def command(self, main: str, *args: str, options: tuple[str, ...] = ()) -> list[str]:
        return [str(self.java), *JVM_OPTIONS, *options, "-cp", self.classpath, main, *args]


def find_java() -> Path:
    """`$JAVA_HOME/bin/java`, else `java` on PATH; it must be Java 17 or newer."""
    home = os.environ.get("JAVA_HOME")
    java = Path(home) / "bin" / "java" if home else None
    if java is None or not java.is_file():
        found = shutil.which("java")
        if found is None:
            raise EmbeddedError(
                f"Apache Kafka needs Java {JAVA_MIN}+: no `java` on PATH and no JAVA_HOME"
            )
        java = Path(found)
    result = subprocess.run([str(java), "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr + result.stdout)
    if match is None:
        raise EmbeddedError(f"could not read the Java version from `{java} -version`")
    major = int(match[2]) if match[1] == "1" else int(match[1])
    if major < JAVA_MIN:
        raise EmbeddedError(f"Apache Kafka needs Java {JAVA_MIN}+; {java} is Java {major}")
    return java


def pom_version(pom: Path) -> str:
    """The pinned Kafka version: the `kafka.version` property of the pom."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    node = ET.parse(pom).getroot().find("m:properties/m:kafka.version", ns)
    if node is None or not (node.text or "").strip():
        raise EmbeddedError(f"{pom} has no <properties><kafka.version>")
    return (node.text or "").strip()


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "switchboard"


def find_distribution(pom: Path) -> Distribution:
    """Kafka from `KAFKA_HOME` if set, else the pom's jars (fetched with Maven once)."""
    java = find_java()
    home = os.environ.get("KAFKA_HOME")
    if home:
        libs = Path(home) / "libs"
        jars = sorted(libs.glob("kafka_2.13-*.jar")) if libs.is_dir() else []
        core = [j for j in jars if not j.stem.endswith(("-test", "-sources", "-javadoc"))]
        if not core:
            raise EmbeddedError(
                f"KAFKA_HOME={home} is not an unpacked Apache Kafka: no libs/kafka_2.13-*.jar"
            )
        return Distribution(java, libs, core[0].stem.removeprefix("kafka_2.13-"))
    version = pom_version(pom)
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()[:12]
    target = cache_root() / f"kafka-{version}-{digest}"
    if not (target / ".complete").exists():
        _fetch_jars(pom, target)
    return Distribution(java, target / "lib", version)


def _fetch_jars(pom: Path, target: Path) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise EmbeddedError(
            "Apache Kafka's jars are not cached yet and Maven (`mvn`) is not on PATH:"
            " install Maven, or set KAFKA_HOME to an unpacked Apache Kafka distribution"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{target.name}-staging-", dir=target.parent))
    try:
        result = subprocess.run(
            [
                mvn,
                "-q",
                "-B",
                "-f",
                str(pom),
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={staging / 'lib'}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise EmbeddedError(
                f"Maven could not fetch Kafka's jars from {pom} ({result.returncode}):\n"
                + (result.stdout + result.stderr)[-3000:]
            )
        (staging / ".complete").touch()
        with contextlib.suppress(OSError):
            os.rename(staging, target)  # another process may have won the race: use its copy
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def cluster_id() -> str:
    """Kafka's Uuid text form: URL-safe base64 of 16 random bytes, unpadded.

    Like Kafka's own `Uuid.randomUuid`, never one starting with "-": the command-line
    tools would take it for an option.
    """
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def remove_stale_data(root: Path | None = None) -> None:
    """Remove data directories whose harness died without cleaning up (SIGKILL)."""
    for path in (root or Path(tempfile.gettempdir())).glob(f"{DATA_PREFIX}*"):
        owner = path.name.removeprefix(DATA_PREFIX).partition("-")[0]
        if owner.isdigit() and not process_alive(int(owner)):
            shutil.rmtree(path, ignore_errors=True)


def process_alive(pid: int) -> bool:
    """True while `pid` runs (a zombie has exited: only its parent has not reaped it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


@dataclass
class Node:
    node_id: int
    port: int = field(default_factory=free_port)
    controller_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc and self.proc.poll() is None else None


@dataclass
class KafkaCluster:
    """Apache Kafka in KRaft mode: `size` combined broker+controller nodes on loopback."""

    pom: Path
    size: int = 1
    log_dir: Path | None = None
    distribution: Distribution | None = None
    ports: tuple[int, ...] = ()  # the brokers' client ports; free ones if not given
    # (user, password): clients and brokers authenticate with SASL/SCRAM-SHA-512.
    scram: tuple[str, str] | None = None
    # More SCRAM users (user, password), for clients of their own principal.
    users: tuple[tuple[str, str], ...] = ()
    # With SCRAM: the StandardAuthorizer, denying what no ACL allows; the `scram` user
    # (and the controllers' plaintext loopback listener) are super users.
    authorizer: bool = False
    nodes: list[Node] = field(init=False)
    _root: Path | None = None

    def __post_init__(self) -> None:
        self.nodes = [Node(i + 1) for i in range(self.size)]
        for node, port in zip(self.nodes, self.ports, strict=False):
            node.port = port

    @property
    def description(self) -> str:
        version = self.distribution.version if self.distribution else pom_version(self.pom)
        return f"Apache Kafka {version}, KRaft, {self.size} node(s)"

    @property
    def bootstrap(self) -> str:
        return ",".join(node.address for node in self.nodes)

    @property
    def pids(self) -> tuple[int, ...]:
        """The running nodes' processes (one JVM each)."""
        return tuple(pid for node in self.nodes if (pid := node.pid) is not None)

    @property
    def root(self) -> Path:
        assert self._root is not None, "start() first"
        return self._root

    def user_settings(self, user: str, **values: Any) -> KafkaSettings:
        """Client settings as one of the cluster's other SCRAM `users`."""
        password = dict(self.users)[user]
        return self.client_settings(sasl_username=user, sasl_password=password, **values)

    def client_settings(self, **values: Any) -> KafkaSettings:
        """Client settings for Kafka: idempotent producer, long-polling fetch, replicated topics."""
        defaults: dict[str, Any] = {
            "enable_idempotence": True,
            "fetch_max_wait_ms": KAFKA_FETCH_MAX_WAIT_MS,
            "replication_factor": min(self.size, 3),
        }
        if self.scram is not None:
            defaults |= {
                "security_protocol": "SASL_PLAINTEXT",
                "sasl_mechanism": SCRAM,
                "sasl_username": self.scram[0],
                "sasl_password": self.scram[1],
            }
        return KafkaSettings(bootstrap=self.bootstrap, **(defaults | values))

    def _listener_config(self, node: Node) -> dict[str, str]:
        controller = f"CONTROLLER://127.0.0.1:{node.controller_port}"
        if self.authorizer and self.scram is None:
            raise EmbeddedError("an authorizer needs SCRAM users: set scram too")
        if self.scram is None:
            return {
                "listeners": f"PLAINTEXT://{node.address},{controller}",
                "advertised.listeners": f"PLAINTEXT://{node.address}",
                "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                "inter.broker.listener.name": "PLAINTEXT",
            }
        user, password = self.scram
        login = "org.apache.kafka.common.security.scram.ScramLoginModule"
        return {
            "listeners": f"SASL_PLAINTEXT://{node.address},{controller}",
            "advertised.listeners": f"SASL_PLAINTEXT://{node.address}",
            "listener.security.protocol.map": "SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "SASL_PLAINTEXT",
            "sasl.enabled.mechanisms": SCRAM,
            "sasl.mechanism.inter.broker.protocol": SCRAM,
            "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config": (
                f'{login} required username="{user}" password="{password}";'
            ),
        } | (self._authorizer_config(user) if self.authorizer else {})

    @staticmethod
    def _authorizer_config(admin: str) -> dict[str, str]:
        return {
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found": "false",
            # The controller listener is plaintext on loopback: its principal is ANONYMOUS.
            "super.users": f"User:{admin};User:ANONYMOUS",
        }

    def broker_settings(self) -> dict[str, str]:
        """The cluster-wide durability and topic settings; docker-compose.yml gives its
        broker the same (tests/deploy compares them)."""
        replicas = str(min(self.size, 3))
        min_isr = "2" if self.size >= 3 else "1"
        return {
            # Topics are created by the services and the tests, never by a first use.
            "auto.create.topics.enable": "false",
            "num.partitions": str(DEFAULT_PARTITIONS),
            "default.replication.factor": replicas,
            "min.insync.replicas": min_isr,
            "unclean.leader.election.enable": "false",
            "offsets.topic.replication.factor": replicas,
            "transaction.state.log.replication.factor": replicas,
            "transaction.state.log.min.isr": min_isr,
            "group.initial.rebalance.delay.ms": "0",
        }

    def config(self, node: Node) -> dict[str, str]:
        voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes)
        return {
            "process.roles": "broker,controller",
            "node.id": str(node.node_id),
            "controller.quorum.voters": voters,
            "controller.listener.names": "CONTROLLER",
            **self._listener_config(node),
            "log.dirs": str(self.root / f"node-{node.node_id}"),
            **self.broker_settings(),
            "offsets.topic.num.partitions": "6",
            "transaction.state.log.num.partitions": "6",
            # Records past KAFKA__MAX_MESSAGE_BYTES reach the runner, which dead-letters
            # them whole (up to KAFKA__MAX_DEAD_LETTER_BYTES), as on Tansu.
            "message.max.bytes": str(KafkaSettings().max_dead_letter_bytes + 64 * 1024),
            # Tests that kill a consumer take over its partitions after a short session.
            "group.min.session.timeout.ms": "1000",
            "num.network.threads": "2",
            "num.io.threads": "2",
            "background.threads": "2",
            "log.cleaner.threads": "1",
        }

    def start(self) -> None:
        """Format every node's storage, start the nodes, wait until all brokers serve."""
        remove_stale_data()
        self.distribution = self.distribution or find_distribution(self.pom)
        self._root = Path(tempfile.mkdtemp(prefix=f"{DATA_PREFIX}{os.getpid()}-"))
        (self.root / "log4j2.properties").write_text(BROKER_LOG4J2)
        (self.root / "log4j2-tools.properties").write_text(TOOLS_LOG4J2)
        cluster = cluster_id()
        for node in self.nodes:
            config = "".join(f"{k}={v}\n" for k, v in self.config(node).items())
            self._properties(node).write_text(config)
        # Every format has ended when the pool closes: a failure leaves no JVM behind.
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            failures = [f for f in pool.map(lambda n: self._format(n, cluster), self.nodes) if f]
        if failures:
            raise EmbeddedError("formatting Kafka storage failed:\n" + "\n".join(failures))
        try:
            for node in self.nodes:
                self.start_node(node, wait=False)
            self.wait_ready(timeout=90)
        except BaseException:
            # The JVMs go now, not when this process exits; the log stays for the error.
            self._kill_nodes()
            raise

    def _format(self, node: Node, cluster: str) -> str | None:
        """Format one node's storage, or say why it failed. The format is idempotent
        (`--ignore-formatted`), so a failure is tried once more; each failure's output is logged."""
        args = ["format", "--ignore-formatted", "-t", cluster, "-c", str(self._properties(node))]
        if self.scram is not None:
            for user, password in (self.scram, *self.users):
                args += ["--add-scram", f"{SCRAM}=[name={user},password={password}]"]
        if self._run_format(node, args) is None:
            return None
        return self._run_format(node, args)

    def _run_format(self, node: Node, args: list[str]) -> str | None:
        try:
            result = self._tool("kafka.tools.StorageTool", args, FORMAT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            why = f"node {node.node_id}: no answer in {FORMAT_TIMEOUT_S} s"
        else:
            if result.returncode == 0:
                return None
            # The exception's message, without its stack frames.
            lines = (result.stdout + result.stderr).strip().splitlines()
            output = "\n".join(line for line in lines if not line.startswith("\tat "))
            why = f"node {node.node_id}: exit {result.returncode}: {output[-2000:]}"
        with open(self.log_path, "a") as log:
            log.write(f"formatting failed, {why}\n")
        return why

    @property
    def log_path(self) -> Path:
        return self.log_dir / "kafka.log" if self.log_dir else self.root / "kafka.log"

    def _java(self, main: str, *args: str) -> subprocess.Popen[bytes]:
        assert self.distribution is not None
        log4j = f"-Dlog4j2.configurationFile={self.root / 'log4j2.properties'}"
        with open(self.log_path, "ab") as log:
            return subprocess.Popen(
                self.distribution.command(main, *args, options=(log4j,)),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # SIGKILL: a graceful shutdown can wait forever on a vanished quorum.
                preexec_fn=die_with_parent(signal.SIGKILL),
            )

    def start_node(self, node: Node, wait: bool = True) -> None:
        """(Re)start one node on its own ports and data; wait until every broker serves."""
        node.proc = self._java("kafka.Kafka", str(self._properties(node)))
        if wait:
            self.wait_ready(timeout=90)

    def stop_node(self, node: Node, sig: int = signal.SIGTERM) -> None:
        """SIGTERM: controlled shutdown (leaders move first); SIGKILL: a crash."""
        stop_process(node.proc, sig, timeout=60)
        node.proc = None

    def wait_ready(self, timeout: float) -> None:
        """Until every running node is a registered, unfenced broker, or raise."""
        running = {n.node_id for n in self.nodes if n.proc is not None}
        deadline = time.monotonic() + timeout
        while True:
            for node in self.nodes:
                if node.proc is not None and node.proc.poll() is not None:
                    raise EmbeddedError(
                        f"Kafka node {node.node_id} exited with {node.proc.returncode}:"
                        f" see {self.log_path}"
                    )
            listening = all(_listens(n.port) for n in self.nodes if n.proc is not None)
            if listening and _in_thread(_brokers(self.client_settings())) >= running:
                return
            if time.monotonic() > deadline:
                raise EmbeddedError(
                    f"Kafka ({self.bootstrap}) not ready after {timeout:.0f} s: see {self.log_path}"
                )
            time.sleep(0.2)

    def run_tool(self, main: str, *args: str, timeout: float = 120) -> str:
        """Run one of Kafka's own command-line tools (a main class) and return its output."""
        result = self._tool(main, args, timeout)
        if result.returncode != 0:
            raise EmbeddedError(f"{main} {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
        return result.stdout

    def _tool(
        self, main: str, args: Sequence[str], timeout: float
    ) -> subprocess.CompletedProcess[str]:
        assert self.distribution is not None, "start() first"
        log4j = f"-Dlog4j2.configurationFile={self.root / 'log4j2-tools.properties'}"
        return subprocess.run(
            self.distribution.command(main, *args, options=(log4j,)),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
            preexec_fn=die_with_parent(signal.SIGKILL),
        )

    def _properties(self, node: Node) -> Path:
        return self.root / f"node-{node.node_id}.properties"

    def stop(self) -> None:
        """Stop every node at once (the data is thrown away) and remove the data."""
        self._kill_nodes()
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    def _kill_nodes(self) -> None:
        for node in self.nodes:
            stop_process(node.proc, signal.SIGKILL)
            node.proc = None


def _listens(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False


async def _brokers(settings: KafkaSettings) -> set[int]:
    """The ids of the brokers the cluster metadata lists (registered and unfenced)."""
    admin = make_admin(settings, request_timeout_ms=2000)
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
        return {broker["node_id"] for broker in cluster["brokers"]}
    except (KafkaError, OSError):
        return set()  # not serving yet
    finally:
        await admin.close()


def _in_thread(coro: Coroutine[Any, Any, set[int]]) -> set[int]:
    """Run a coroutine to completion from sync code, even inside a running event loop."""
    result: list[set[int]] = []
    thread = threading.Thread(target=lambda: result.append(asyncio.run(coro)))
    thread.start()
    thread.join()
    return result[0] if result else set()
