"""Developer commands behind `make run`, `make tail`, `make publish` and `make import`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

from aiokafka.errors import KafkaConnectionError

from switchboard_devtools import stack
from switchboard_devtools.publish import publish
from switchboard_devtools.services import command, service_env, services
from switchboard_devtools.tail import tail
from switchboard_runtime.errors import ConfigurationError
from switchboard_runtime.service import find
from switchboard_runtime.settings import KafkaSettings, ToolKafkaSettings, load_settings

NO_STACK = "no `make run` is running (.run/stack.json is missing)"
BOOTSTRAP_HELP = "host:port (default: KAFKA__BOOTSTRAP, else the running `make run`)"


def _running() -> dict[str, str]:
    """Where the running `make run` listens: its broker and database."""
    if not stack.STATE_FILE.exists():
        sys.exit(NO_STACK)
    state: dict[str, str] = json.loads(stack.STATE_FILE.read_text())
    return state


def _kafka(given: str | None) -> KafkaSettings:
    """`KAFKA__*` from the environment (security, SASL); the broker is `--bootstrap`, else
    `KAFKA__BOOTSTRAP`, else the running `make run`'s."""
    settings = load_settings(ToolKafkaSettings, **({"bootstrap": given} if given else {}))
    if "bootstrap" not in settings.model_fields_set:
        return settings.model_copy(update={"bootstrap": _running()["bootstrap"]})
    return settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m switchboard_devtools")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="start the whole system with demo traffic")
    run.add_argument("--rate", type=float, default=2.0, help="demo contacts per second")
    run.add_argument("--seed", type=int, default=7, help="demo traffic seed")
    run.add_argument("--duration", type=float, help="stop the demo traffic after S seconds")
    run.add_argument("--broker", choices=("tansu", "kafka"), default="tansu", help="the broker")
    show = commands.add_parser("tail", help="print a topic's records as they arrive")
    show.add_argument("topic")
    show.add_argument("--bootstrap", help=BOOTSTRAP_HELP)
    show.add_argument("--from-start", action="store_true", help="from the first record")
    send = commands.add_parser(
        "publish", help="publish a file's bytes as they are: one record, or one per JSON line"
    )
    send.add_argument("topic")
    send.add_argument("file", type=Path)
    send.add_argument("--bootstrap", help=BOOTSTRAP_HELP)
    send.add_argument("--key", help="the record key (default: the event's subject, if any)")
    cli = commands.add_parser(
        "service", help="run a service's command against the running `make run`"
    )
    cli.add_argument("name", choices=[s.name for s in services()])
    cli.add_argument("args", nargs=argparse.REMAINDER, help="e.g. import customers.csv")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "run":
        try:
            return stack.run(
                stack.RunOptions(args.rate, args.seed, args.duration, broker=args.broker)
            )
        except KeyboardInterrupt:
            return 0
    if args.command == "service":
        return _service(args.name, args.args)
    try:
        settings = _kafka(args.bootstrap)
    except ConfigurationError as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        if args.command == "tail":
            with contextlib.suppress(KeyboardInterrupt):
                asyncio.run(tail(settings, args.topic, args.from_start))
            return 0
        count = asyncio.run(publish(settings, args.topic, args.file, args.key))
    except KafkaConnectionError:
        print(
            f"cannot reach the broker at {settings.bootstrap}: is `make run` running?",
            file=sys.stderr,
        )
        return 2
    except OSError as exc:
        if args.command != "publish":
            raise
        print(f"cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"published {count} record(s) to {args.topic}")
    return 0


def _service(name: str, args: list[str]) -> int:
    """`python -m <service> ARGS` with the running stack's database and broker."""
    spec = find(name)
    state = _running()
    env = dict(os.environ) | service_env(spec, state["database"], state["bootstrap"])
    del env[f"{spec.env_prefix}HTTP_PORT"]  # the running instance holds its port
    return subprocess.run(command(spec, *args), env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
