"""Developer commands behind `make run`, `make tail` and `make publish`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from pathlib import Path

from switchboard_devtools import stack
from switchboard_devtools.publish import publish
from switchboard_devtools.tail import tail


def _bootstrap(given: str | None) -> str:
    if given:
        return given
    if stack.STATE_FILE.exists():
        bootstrap: str = json.loads(stack.STATE_FILE.read_text())["bootstrap"]
        return bootstrap
    sys.exit("no --bootstrap given and no `make run` is running (.run/stack.json is missing)")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m switchboard_devtools")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="start the whole system with demo traffic")
    run.add_argument("--rate", type=float, default=2.0, help="demo contacts per second")
    run.add_argument("--seed", type=int, default=7, help="demo traffic seed")
    run.add_argument("--duration", type=float, help="stop the demo traffic after S seconds")
    run.add_argument("--broker", choices=("tansu", "kafka"), default="tansu", help="the broker")
    show = commands.add_parser("tail", help="print a topic's records as they arrive")
    show.add_argument("topic")
    show.add_argument("--bootstrap", help="host:port (default: the running `make run`)")
    show.add_argument("--from-start", action="store_true", help="from the first record")
    send = commands.add_parser("publish", help="publish events from a JSON / JSON Lines file")
    send.add_argument("topic")
    send.add_argument("file", type=Path)
    send.add_argument("--bootstrap", help="host:port (default: the running `make run`)")
    args = parser.parse_args()

    if args.command == "run":
        try:
            return stack.run(
                stack.RunOptions(args.rate, args.seed, args.duration, broker=args.broker)
            )
        except KeyboardInterrupt:
            return 0
    if args.command == "tail":
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(tail(_bootstrap(args.bootstrap), args.topic, args.from_start))
        return 0
    count = asyncio.run(publish(_bootstrap(args.bootstrap), args.topic, args.file))
    print(f"published {count} record(s) to {args.topic}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
