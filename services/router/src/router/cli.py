"""`python -m router [serve | check FILE... | explain --event FILE ... | migrate]`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from router import DEFAULT_POLICY, MIGRATIONS, SCHEMA
from router.config import RouterSettings
from router.consumer import NAME, build
from router.domain import explain as explain_report
from router.domain.engine import Snapshot
from router.domain.policy import PolicyInvalid, load_policy, policy_version
from router.policy_store import compile_file
from switchboard_events import ENRICHED_DECODER, InvalidEvent
from switchboard_runtime.errors import ConfigurationError
from switchboard_runtime.host import serve
from switchboard_runtime.logs import configure_logging
from switchboard_runtime.migrations import upgrade
from switchboard_runtime.reach import reported_unreachable
from switchboard_runtime.settings import load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m router", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the router (the default)")
    commands.add_parser("migrate", help="apply the routing schema's migrations")
    check = commands.add_parser("check", help="validate policy files")
    check.add_argument("files", nargs="+", type=Path)
    explain = commands.add_parser("explain", help="show the decision for an event, step by step")
    explain.add_argument(
        "--event", required=True, type=Path, help="a contact.enriched event (JSON)"
    )
    explain.add_argument("--policy", type=Path, default=None, help=f"default: {DEFAULT_POLICY}")
    explain.add_argument(
        "--at", type=datetime.fromisoformat, help="decide as of, e.g. 2025-03-03T10:00:00Z"
    )
    explain.add_argument(
        "--load",
        action="append",
        default=[],
        metavar="QUEUE:CHANNEL=N",
        help="assume N open contacts (repeatable); default: no load",
    )
    explain.add_argument("--json", action="store_true", help="print JSON instead of text")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "check":
        return check(args.files)
    try:
        if args.command == "explain":
            return explain(args)
        settings = load_settings(RouterSettings)
    except (ConfigurationError, PolicyInvalid, ValueError, OSError) as exc:
        print(f"router: {exc}", file=sys.stderr)
        return 2
    if args.command == "migrate":
        with reported_unreachable("router", settings):
            upgrade(settings.database_url.get_secret_value(), MIGRATIONS, SCHEMA)
        return 0
    configure_logging(NAME, settings.log_level)
    try:
        service = build(settings)
    except (PolicyInvalid, OSError) as exc:
        print(f"router: cannot load the policy {settings.policy_path}: {exc}", file=sys.stderr)
        return 2
    with reported_unreachable("router", settings):
        asyncio.run(serve(service))
    return 0


def check(files: list[Path]) -> int:
    failed = 0
    for path in files:
        try:
            content = path.read_bytes()
            load_policy(content)
        except OSError as exc:
            print(f"{path}: cannot read: {exc.strerror or exc}", file=sys.stderr)
            failed += 1
        except PolicyInvalid as exc:
            print(f"{path}: {exc}", file=sys.stderr)
            failed += 1
        else:
            print(f"{path}: valid, version {policy_version(content)}")
    return 1 if failed else 0


def _loads(specs: list[str]) -> dict[tuple[str, str], int]:
    loads: dict[tuple[str, str], int] = {}
    for spec in specs:
        target, _, count = spec.partition("=")
        queue, _, channel = target.partition(":")
        if not (queue and channel and count.isdigit()):
            raise ValueError(f"--load {spec!r}: expected QUEUE:CHANNEL=N, e.g. general:call=12")
        loads[(queue, channel)] = int(count)
    return loads


def explain(args: argparse.Namespace) -> int:
    policy = compile_file(args.policy or DEFAULT_POLICY)
    try:
        event = ENRICHED_DECODER.decode(args.event.read_bytes())
    except InvalidEvent as exc:
        print(f"router: {args.event}: {exc.reason}", file=sys.stderr)
        return 2
    settings = load_settings(RouterSettings)
    at = explain_report.at_or_now(args.at, datetime.now(UTC))
    snap = Snapshot(policy, at, _loads(args.load))
    key = settings.pseudonym_key.get_secret_value().encode()
    result = explain_report.explain(policy, event, snap, key)
    print(json.dumps(result, indent=2) if args.json else explain_report.text_report(result))
    return 0
