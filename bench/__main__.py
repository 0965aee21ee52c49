"""`make bench`: start the embedded stack, measure the baseline, then every suite.

Prints one JSON line per figure: {"figure", "value", "unit"} plus "vs_passthrough" on
throughput figures (the ratio to the pass-through measured in this same run).
"""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
import sys
import tempfile
import time
from pathlib import Path

from bench import baseline, suites
from bench.context import BenchContext
from switchboard_runtime.embedded import Broker, Postgres


async def main(selected: list[str]) -> None:
    log_dir = Path(tempfile.mkdtemp(prefix="switchboard-bench-"))
    broker = Broker(log_path=log_dir / "broker.log")
    postgres = Postgres()
    broker.start()
    postgres.start()
    ctx = BenchContext(broker, postgres, log_dir)
    try:
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


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
