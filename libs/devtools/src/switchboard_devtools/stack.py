"""`make run`: the whole system on one machine, in the foreground until Ctrl-C.

Starts the embedded broker and database, applies every service's migrations, creates
the topics, seeds the demo customers, starts every installed service and the demo
traffic generator, then prints a line a few seconds with what flowed where.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from switchboard_devtools.services import REPO, command, service_env, services
from switchboard_events.topics import ALL_TOPICS, dlq
from switchboard_runtime import kafka
from switchboard_runtime.apache_kafka import KafkaCluster
from switchboard_runtime.auth import new_token
from switchboard_runtime.embedded import Broker, EmbeddedError, Postgres, die_with_parent
from switchboard_runtime.migrations import upgrade
from switchboard_runtime.service import ServiceSpec
from switchboard_runtime.settings import KafkaSettings

RUN_DIR = REPO / ".run"
STATE_FILE = RUN_DIR / "stack.json"
BROKER_PORT = 19092
POSTGRES_PORT = 15432
DATABASE = "switchboard"
KAFKA_POM = REPO / "deploy" / "kafka" / "pom.xml"


@dataclass
class RunOptions:
    rate: float = 2.0
    seed: int = 7
    duration: float | None = None
    partitions: int = 6
    broker: str = "tansu"  # or "kafka": Apache Kafka from deploy/kafka/pom.xml or KAFKA_HOME


@dataclass
class Children:
    """Processes started by the stack; all are stopped on exit, also on failure."""

    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        with open(RUN_DIR / f"{name}.log", "ab") as log:
            proc = subprocess.Popen(
                args,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=REPO,
                preexec_fn=die_with_parent(signal.SIGTERM),
            )
        self.procs[name] = proc
        return proc

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run(options: RunOptions) -> int:
    RUN_DIR.mkdir(exist_ok=True)
    broker: Broker | KafkaCluster = Broker(port=BROKER_PORT, log_path=RUN_DIR / "broker.log")
    if options.broker == "kafka":
        broker = KafkaCluster(KAFKA_POM, log_dir=RUN_DIR, ports=(BROKER_PORT,))
    postgres = Postgres(port=POSTGRES_PORT, durable=True)
    children = Children()
    stop = _install_stop_handlers()
    with ExitStack() as cleanup:
        cleanup.callback(postgres.cleanup)
        cleanup.callback(broker.stop)
        cleanup.callback(children.stop_all)
        cleanup.callback(lambda: STATE_FILE.unlink(missing_ok=True))
        try:
            _say(f"starting the broker ({broker.description}) and PostgreSQL")
            broker.start()
            postgres.start()
        except EmbeddedError as exc:
            _say(f"could not start: {exc}")
            _say(f"is another `make run` using ports {BROKER_PORT}/{POSTGRES_PORT}?")
            return 1
        database_url = postgres.dsn_for(DATABASE)
        asyncio.run(_create_database(postgres.dsn, DATABASE))
        specs = services()
        for spec in specs:
            upgrade(database_url, spec.migrations, spec.schema)
        settings = broker.client_settings(partitions=options.partitions)
        asyncio.run(kafka.create_topics(settings, _topic_names()))
        STATE_FILE.write_text(json.dumps({"bootstrap": broker.bootstrap, "database": database_url}))

        # One admin token per run, of every scope: the services keep only its hash.
        token, token_hash = new_token()
        customers = RUN_DIR / "customers.jsonl"
        demo = [sys.executable, "-m", "switchboard_demo"]
        subprocess.run([*demo, "customers", "--out", str(customers)], check=True, cwd=REPO)
        for spec in specs:
            env = _service_env(spec, database_url, settings, token_hash)
            children.start(spec.name, command(spec), env)
        _seed_customers(specs, customers, database_url, settings)
        _wait_ready(specs, children)
        traffic = [*demo, "traffic", "--rate", str(options.rate), "--seed", str(options.seed)]
        if options.duration:
            traffic += ["--duration", str(options.duration)]
        # The broker's client settings, as the tools read them: KAFKA__BOOTSTRAP, ...
        children.start("traffic", traffic, _base_env() | settings.as_env(""))
        _banner(specs, broker, database_url, options, token)
        try:
            asyncio.run(_watch(settings, stop, children))
        finally:
            # Ctrl-C reaches the broker too: the watcher's reconnect attempts are noise now.
            logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
            _say("stopping everything")
    return 0


def _install_stop_handlers() -> asyncio.Event:
    stop = asyncio.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    return stop


def _topic_names() -> list[str]:
    names = [spec.name for spec in ALL_TOPICS]
    names += [dlq(spec.name) for spec in ALL_TOPICS if spec.consumers]
    return names


async def _create_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url.replace("+asyncpg", ""))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def _base_env() -> dict[str, str]:
    return dict(os.environ)


def _service_env(
    spec: ServiceSpec, database_url: str, kafka: KafkaSettings, token_hash: str | None = None
) -> dict[str, str]:
    env = service_env(spec, database_url, kafka.bootstrap, token_hash)
    return _base_env() | kafka.as_env(spec.env_prefix) | env


def _seed_customers(
    specs: list[ServiceSpec], customers: Path, database_url: str, kafka: KafkaSettings
) -> None:
    for spec in specs:
        if spec.package == "profile_lookup":
            args = command(spec, "import", str(customers))
            subprocess.run(args, check=True, cwd=REPO, env=_service_env(spec, database_url, kafka))


def _wait_ready(specs: list[ServiceSpec], children: Children, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    for spec in specs:
        url = f"http://127.0.0.1:{spec.default_port}/readyz"
        while True:
            proc = children.procs[spec.name]
            if proc.poll() is not None:
                raise SystemExit(
                    f"{spec.name} exited with {proc.returncode}: see .run/{spec.name}.log"
                )
            with suppress(OSError), urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit(f"{spec.name} not ready after {timeout:.0f} s: see {url}")
            time.sleep(0.3)


def _banner(
    specs: list[ServiceSpec],
    broker: Broker | KafkaCluster,
    database_url: str,
    options: RunOptions,
    token: str,
) -> None:
    router = next(s.default_port for s in specs if s.name == "router")
    lines = [
        "",
        "Switchboard is running (Ctrl-C stops everything).",
        f"  broker                       {broker.bootstrap}  ({broker.description})",
        f"  PostgreSQL                   {database_url}",
    ]
    lines += [
        f"  {s.name:<28} http://127.0.0.1:{s.default_port}  (/readyz /metrics /docs)" for s in specs
    ]
    lines += [
        f"  demo traffic                 {options.rate:g} contacts/s, seed {options.seed}",
        "  logs                         .run/*.log",
        f"  admin token (this run only)  {token}",
        f'    curl -H "Authorization: Bearer {token}" http://127.0.0.1:{router}/admin/queues',
        "Watch a topic in another terminal:",
        "  make tail TOPIC=routing.decisions      (or contacts.enriched, sla.alerts, ...)",
        "",
    ]
    print("\n".join(lines), flush=True)


async def _watch(settings: KafkaSettings, stop: asyncio.Event, children: Children) -> None:
    """Print, every few seconds, how many records each topic received and where they went."""
    topics = _topic_names()
    consumer = kafka.make_consumer(
        settings, f"make-run-watch-{int(time.time())}", "make-run-watch", *topics
    )
    await consumer.start()
    # While the loop runs, SIGTERM ends it the way Ctrl-C does: raising KeyboardInterrupt
    # out of the selector (the handler outside the loop) left aiokafka's tasks pending.
    loop = asyncio.get_running_loop()
    outside = signal.getsignal(signal.SIGTERM)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    counts: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    last = time.monotonic()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=500)
            for tp, messages in batch.items():
                counts[tp.topic] += len(messages)
                for message in messages:
                    kinds.update(_kind(tp.topic, message.value))
            for name, proc in children.procs.items():
                if proc.poll() is not None and name != "traffic":
                    _say(f"{name} exited with {proc.returncode}: see .run/{name}.log")
                    return
            if time.monotonic() - last >= 5:
                last = time.monotonic()
                _say(_summary(counts, kinds))
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        signal.signal(signal.SIGTERM, outside)
        await consumer.stop()


def _kind(topic: str, value: bytes | None) -> list[str]:
    """A short label of what a record says, for the summary line."""
    if not value or topic.endswith(".dlq"):
        return []
    with suppress(ValueError, KeyError, TypeError):
        event = json.loads(value)
        data = event["data"]
        match event["type"]:
            case "switchboard.contact.enriched.v1":
                return [f"customer {data['identification']['status']}"]
            case "switchboard.routing.decided.v1":
                overflow = ["overflowed"] if data.get("overflow") else []
                return [f"to {data['queue_kind']}", *overflow]
            case "switchboard.sla.alert.v1":
                return [f"sla {data['kind']}"]
    return []


def _summary(counts: Counter[str], kinds: Counter[str]) -> str:
    parts = [f"{topic} {counts[topic]}" for topic in sorted(counts) if not topic.endswith(".dlq")]
    dead = sum(n for topic, n in counts.items() if topic.endswith(".dlq"))
    detail = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
    return " | ".join(parts) + f" | dead letters {dead}" + (f" | {detail}" if detail else "")


def _say(message: str) -> None:
    print(f"[make run] {message}", flush=True)
