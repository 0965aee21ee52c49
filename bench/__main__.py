"""`make bench`: start the stack, measure the baseline, then every suite.

`python -m bench [--broker tansu|kafka] [SUITE...]` (`make bench BROKER=kafka`): the broker
is Tansu (embedded) or Apache Kafka, a single KRaft node from deploy/kafka/pom.xml or
KAFKA_HOME (as `make test-kafka`); the pass-through baseline runs on the same broker.
Prints one JSON line per figure: {"figure", "value", "unit", "broker"} plus, on
throughput figures, "vs_passthrough" and "vs_passthrough_batched" (the ratios to the
pass-through measured in this same run, producing with one `send()` per record and in
batches per partition). A service's backlog is drained in `bench.common.ROUNDS` spans and
its figures are the span with the median CPU per event (each span is printed as a `#`
comment). It also gives `<service>_cpu_us_per_event` (its process CPU time over the
events it processed), `<service>_stack_cpu_us_per_event` (over the same span, the CPU of
the service, the broker's processes and PostgreSQL's, backends that ended in it
included), `<service>_cpu_bound_vs_passthrough` (cores ÷ stack CPU per event ÷ the
pass-through's events/s: the `vs_passthrough` that CPU cost allows with every core busy)
and `<service>_rss_mb`. The baseline gives the
pass-through's own CPU and its stack's (itself and the broker, no database) per event.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import pkgutil
import sys
import tempfile
import time
from pathlib import Path

from bench import baseline, suites
from bench.context import REPO, BenchContext
from switchboard_runtime.apache_kafka import KafkaCluster
from switchboard_runtime.embedded import Broker, Postgres


async def main(broker_name: str, selected: list[str]) -> None:
    log_dir = Path(tempfile.mkdtemp(prefix="switchboard-bench-"))
    broker: Broker | KafkaCluster = Broker(log_path=log_dir / "broker.log")
    if broker_name == "kafka":
        broker = KafkaCluster(REPO / "deploy" / "kafka" / "pom.xml", log_dir=log_dir)
    postgres = Postgres()
    print(f"# broker: {broker.description}", file=sys.stderr)
    ctx = BenchContext(broker, postgres, log_dir, broker_name)
    try:
        broker.start()
        postgres.start()
        await baseline.run(ctx)
        names = sorted(m.name for m in pkgutil.iter_modules(suites.__path__))
        for name in names:
            if selected and name not in selected:
                continue
            module = importlib.import_module(f"bench.suites.{name}")
            started = time.monotonic()
            try:
                await module.run(ctx)
            finally:
                ctx.stop_services()
            print(f"# suite {name} took {time.monotonic() - started:.0f} s", file=sys.stderr)
    finally:
        postgres.cleanup()
        broker.stop()


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--broker", choices=("tansu", "kafka"), default="tansu")
    parser.add_argument("suites", nargs="*", help="only these suites (default: every suite)")
    return parser.parse_args()


if __name__ == "__main__":
    args = _arguments()
    asyncio.run(main(args.broker, args.suites))
