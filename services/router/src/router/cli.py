"""The router's own commands, next to the runtime's `serve` and `migrate`:
`check FILE...` validates policy files, `explain --event FILE ...` shows a decision."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

from router import DEFAULT_POLICY
from router.config import RouterSettings
from router.domain import explain as report
from router.domain.engine import Snapshot
from router.domain.policy import PolicyInvalid, load_policy
from router.policies import compile_file
from switchboard_events import ENRICHED_DECODER, InvalidEvent
from switchboard_runtime.cli import USAGE_EXIT, Command
from switchboard_runtime.clock import SYSTEM_CLOCK
from switchboard_runtime.policies import policy_version
from switchboard_runtime.settings import load_settings


def _check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", type=Path)


def check(args: argparse.Namespace) -> int:
    failed = 0
    for path in args.files:
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


def _explain_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--event", required=True, type=Path, help="a contact.enriched event (JSON)")
    parser.add_argument("--policy", type=Path, default=None, help=f"default: {DEFAULT_POLICY}")
    parser.add_argument(
        "--at", type=datetime.fromisoformat, help="decide as of, e.g. 2025-03-03T10:00:00Z"
    )
    parser.add_argument(
        "--load",
        action="append",
        default=[],
        metavar="QUEUE:CHANNEL=N",
        help="assume N open contacts (repeatable); default: no load",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


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
    try:
        policy = compile_file(args.policy or DEFAULT_POLICY)
        event = ENRICHED_DECODER.decode(args.event.read_bytes())
        at = report.at_or_now(args.at, SYSTEM_CLOCK.now())
        snap = Snapshot(policy, at, _loads(args.load))
    except InvalidEvent as exc:
        print(f"router: {args.event}: {exc.reason}", file=sys.stderr)
        return USAGE_EXIT
    except (PolicyInvalid, ValueError, OSError) as exc:
        print(f"router: {exc}", file=sys.stderr)
        return USAGE_EXIT
    key = load_settings(RouterSettings).pseudonym_key.get_secret_value().encode()
    result = report.explain(policy, event, snap, key)
    print(json.dumps(result, indent=2) if args.json else report.text_report(result))
    return 0


COMMANDS = {
    "check": Command("validate policy files", check, _check_arguments),
    "explain": Command("show the decision for an event, step by step", explain, _explain_arguments),
}
