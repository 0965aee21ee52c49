"""Command line: `python -m switchboard_demo customers|traffic ...` (see --help)."""

import argparse
import asyncio
import json
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from switchboard_demo.customers import (
    DEFAULT_CUSTOMER_COUNT,
    DEFAULT_CUSTOMER_SEED,
    Customer,
    demo_customers,
)
from switchboard_demo.publish import PublishError, publish, summary
from switchboard_demo.traffic import DEFAULT_SEED, TrafficConfig, generate_traffic
from switchboard_runtime.errors import ConfigurationError
from switchboard_runtime.settings import KafkaSettings, ToolKafkaSettings, load_settings


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; the exit status is 0 on success."""
    args = _parser().parse_args(argv)
    try:
        customers = demo_customers(args.customer_seed, args.customers)
        if args.command == "customers":
            lines = (json.dumps(c.to_json(), ensure_ascii=False) + "\n" for c in customers)
            args.out.write_text("".join(lines), encoding="utf-8")
            print(f"wrote {len(customers)} customers to {args.out}")
            return 0
        config = TrafficConfig(
            seed=args.seed,
            rate=args.rate,
            duration=args.duration,
            malformed_share=args.malformed_share,
            time_scale=args.time_scale,
            run_id=args.run_id or f"{args.seed}-{int(time.time())}",
        )
        given = {"bootstrap": args.bootstrap} if args.bootstrap else {}
        kafka = load_settings(ToolKafkaSettings, **given)
    except (ValueError, ConfigurationError) as exc:
        print(f"switchboard_demo {args.command}: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_traffic(customers, config, kafka))


async def _traffic(customers: list[Customer], config: TrafficConfig, kafka: KafkaSettings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    began = time.monotonic()
    items = generate_traffic(customers, config, datetime.now(UTC))
    try:
        sent = await publish(items, kafka, stop)
    except PublishError as exc:
        print(f"switchboard_demo traffic: {exc}", file=sys.stderr)
        return 1
    print(summary(sent, time.monotonic() - began), flush=True)
    return 0


def _parser() -> argparse.ArgumentParser:
    # Both commands build the same customer set, so traffic matches what was imported.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--customers", type=int, default=DEFAULT_CUSTOMER_COUNT, help="customer count (default 200)"
    )
    common.add_argument(
        "--customer-seed", type=int, default=DEFAULT_CUSTOMER_SEED, help="seed of the customer set"
    )
    parser = argparse.ArgumentParser(prog="python -m switchboard_demo", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    out = commands.add_parser(
        "customers", parents=[common], help="write the customer set as JSON Lines"
    )
    out.add_argument("--out", type=Path, required=True, help="output file (.jsonl)")
    traffic = commands.add_parser(
        "traffic", parents=[common], help="publish contacts and lifecycle events as they fall due"
    )
    traffic.add_argument(
        "--bootstrap",
        help="Kafka bootstrap servers, HOST:PORT (default: KAFKA__BOOTSTRAP); security and"
        " SASL come from KAFKA__SECURITY_PROTOCOL, KAFKA__SASL_*",
    )
    traffic.add_argument("--rate", type=float, default=2.0, help="contacts per second (default 2)")
    traffic.add_argument(
        "--duration", type=float, help="seconds of traffic (default: until stopped)"
    )
    traffic.add_argument("--seed", type=int, default=DEFAULT_SEED, help="traffic seed (default 7)")
    traffic.add_argument(
        "--malformed-share",
        type=float,
        default=0.0,
        help="share of contacts sent broken, for DLQ demos (default 0)",
    )
    traffic.add_argument(
        "--time-scale", type=float, default=1.0, help="multiplies agents' delays (default 1)"
    )
    traffic.add_argument("--run-id", help="mixed into event ids (default: seed and start time)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
