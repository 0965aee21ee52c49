"""What a benchmark suite gets: the stack (Tansu or Apache Kafka, and the embedded
PostgreSQL), the same-run baseline, and `emit`."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from bench.common import LATENCY_RATE, Drain, ProcessMeter, percentile
from switchboard_runtime.apache_kafka import KafkaCluster
from switchboard_runtime.embedded import Broker, Postgres, die_with_parent
from switchboard_runtime.migrations import upgrade
from switchboard_runtime.settings import KafkaSettings

REPO = Path(__file__).resolve().parent.parent
MIGRATIONS = {
    "profiles": REPO / "services/profile-lookup/migrations",
    "routing": REPO / "services/router/migrations",
    "sla": REPO / "services/sla-monitor/migrations",
}
TEMPLATE = "bench_template"


@dataclass
class BenchContext:
    broker: Broker | KafkaCluster
    postgres: Postgres
    log_dir: Path
    broker_name: str
    passthrough_events_per_s: float = 0.0
    passthrough_batched_events_per_s: float = 0.0
    figures: dict[str, float] = field(default_factory=dict)
    """Every figure printed so far in this run, for suites that compare with another's."""
    _children: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _template_ready: bool = False

    @property
    def kafka(self) -> KafkaSettings:
        """What suits this broker (Kafka: idempotent producer, long-polling fetch); services
        get the same through `as_env`."""
        return self.broker.client_settings(partitions=6)

    def emit(self, figure: str, value: float, unit: str, vs_passthrough: bool = False) -> None:
        """Print one figure; throughput figures carry their ratios to the pass-through
        baselines (one `send()` per record, and batched per partition)."""
        self.figures[figure] = value
        line: dict[str, object] = {
            "figure": figure,
            "value": round(value, 3),
            "unit": unit,
            "broker": self.broker_name,
        }
        if vs_passthrough:
            if not self.passthrough_events_per_s:
                raise RuntimeError("the pass-through baseline must run before ratio figures")
            line["vs_passthrough"] = round(value / self.passthrough_events_per_s, 3)
            if self.passthrough_batched_events_per_s:
                line["vs_passthrough_batched"] = round(
                    value / self.passthrough_batched_events_per_s, 3
                )
        print(json.dumps(line), flush=True)

    def emit_drain(self, name: str, drained: Drain) -> None:
        """A service's backlog figures: events/s (with ratios), its own CPU and the whole
        stack's per event, the pass-through ratio that stack CPU allows, memory."""
        self.emit(f"{name}_events_per_s", drained.events_per_s, "events/s", vs_passthrough=True)
        self.emit(f"{name}_cpu_us_per_event", drained.cpu_us_per_event, "us")
        self.emit(f"{name}_stack_cpu_us_per_event", drained.stack_cpu_us_per_event, "us")
        # Every core busy on this CPU per event, against the pass-through's measured rate.
        cores = os.cpu_count() or 1
        bound = cores / (drained.stack_cpu_us_per_event * 1e-6) / self.passthrough_events_per_s
        self.emit(f"{name}_cpu_bound_vs_passthrough", bound, "ratio")
        self.emit(f"{name}_rss_mb", drained.rss_mb, "MB")

    def meter(self, *pids: int, database: bool = True) -> ProcessMeter:
        """CPU of the process trees `pids` (none: this process), and of the stack: them,
        the broker's processes and (`database`) PostgreSQL's postmaster with its backends."""
        stack = list(self.broker.pids)
        if database:
            if self.postgres.pid is None:
                raise RuntimeError("PostgreSQL must be running to measure the stack's CPU")
            stack.append(self.postgres.pid)
        if not stack:
            raise RuntimeError("the broker must be running to measure the stack's CPU")
        return ProcessMeter(pids, stack)

    def emit_latency(self, name: str, delays: Sequence[float], rate: int) -> None:
        """`<name>_p50_ms` and `<name>_p99_ms` of a steady-rate run; runs below the main
        rate (`LATENCY_RATE`) carry it: `<name>_p99_ms_at_200` (events/s)."""
        ordered = sorted(delays)
        at = "" if rate == LATENCY_RATE else f"_at_{rate}"
        self.emit(f"{name}_p50_ms{at}", statistics.median(ordered), "ms")
        self.emit(f"{name}_p99_ms{at}", percentile(ordered, 0.99), "ms")

    def topic(self, name: str) -> str:
        return f"{name}.b{uuid.uuid4().hex[:8]}"

    async def new_database(self) -> str:
        """A fresh database with every service's migrations applied."""
        if not self._template_ready:
            await self._admin(f'CREATE DATABASE "{TEMPLATE}"')
            for schema, path in MIGRATIONS.items():
                await asyncio.to_thread(upgrade, self.postgres.dsn_for(TEMPLATE), path, schema)
            self._template_ready = True
        name = f"bench_{uuid.uuid4().hex[:10]}"
        await self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
        return self.postgres.dsn_for(name)

    async def _admin(self, statement: str) -> None:
        conn = await asyncpg.connect(self.postgres.dsn_for("postgres").replace("+asyncpg", ""))
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    def start_service(self, module: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        """Run `python -m module serve` with `env` added; stopped when the suite ends."""
        with open(self.log_dir / f"{module}-{len(self._children)}.log", "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", module, "serve"],
                env=dict(os.environ) | env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
                preexec_fn=die_with_parent(signal.SIGTERM),
            )
        self._children.append(proc)
        return proc

    def stop_services(self) -> None:
        for proc in self._children:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self._children:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._children.clear()
