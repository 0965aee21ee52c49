"""The router's own commands, next to the runtime's `serve` and `migrate`:
`check FILE...` validates policy files, `explain --event FILE ...` shows a decision,
`whatif --policy FILE --from T1 --to T2` replays recorded traffic through a candidate."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import datetime
from pathlib import Path

from router import DEFAULT_POLICY
from router.config import RouterSettings
from router.domain import explain as report
from router.domain.engine import Snapshot
from router.domain.policy import PolicyInvalid, load_policy
from router.domain.whatif import RecordedContact
from router.domain.whatif_report import what_if
from router.policies import compile_file
from router.whatif import BadPeriod, TooManyContacts, check_period, recorded_contacts
from router.whatif_output import html_report, text_report
from switchboard_events import ENRICHED_DECODER, InvalidEvent
from switchboard_runtime.cli import USAGE_EXIT, Command
from switchboard_runtime.clock import SYSTEM_CLOCK
from switchboard_runtime.db import make_engine, make_sessionmaker
from switchboard_runtime.policies import policy_version
from switchboard_runtime.reach import reported_unreachable
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


def _whatif_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", required=True, type=Path, help="the candidate policy")
    parser.add_argument(
        "--from", dest="since", required=True, type=_instant, help="e.g. 2025-03-03T00:00:00Z"
    )
    parser.add_argument("--to", dest="until", required=True, type=_instant, help="end, excluded")
    parser.add_argument(
        "--baseline", type=Path, help="the policy the period ran on (default: ROUTER_POLICY_PATH)"
    )
    parser.add_argument("--seed", type=int, default=0, help="same seed and inputs, same report")
    parser.add_argument("--html", type=Path, default=Path("whatif-report.html"))
    parser.add_argument("--json", type=Path, help="also write the report as JSON ('-': stdout)")
    parser.add_argument("--max-contacts", type=int, default=1_000_000)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


class _Bar:
    """A progress bar on stderr, redrawn at most once per percent."""

    def __init__(self, width: int = 40) -> None:
        self.width = width
        self.shown = -1

    def __call__(self, done: int, total: int) -> None:
        percent = 100 * done // max(1, total)
        if percent == self.shown:
            return
        self.shown = percent
        filled = self.width * percent // 100
        bar = "#" * filled + "." * (self.width - filled)
        end = "\n" if done >= total else ""
        print(f"\rreplaying [{bar}] {percent:3d}% {done}/{total}", end=end, file=sys.stderr)


async def _read(settings: RouterSettings, args: argparse.Namespace) -> list[RecordedContact]:
    engine = make_engine(settings.database_url.get_secret_value(), pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            return list(await recorded_contacts(session, args.since, args.until, args.max_contacts))
    finally:
        await engine.dispose()


def whatif(args: argparse.Namespace) -> int:
    settings = load_settings(RouterSettings)
    try:
        check_period(args.since, args.until)
        candidate = compile_file(args.policy)
        baseline = compile_file(args.baseline or settings.policy_path)
    except (PolicyInvalid, BadPeriod, OSError) as exc:
        print(f"router: {exc}", file=sys.stderr)
        return USAGE_EXIT
    print("reading the recorded contacts ...", file=sys.stderr)
    try:
        with reported_unreachable("router", settings):
            contacts = asyncio.run(_read(settings, args))
    except TooManyContacts as exc:
        print(f"router: {exc}", file=sys.stderr)
        return USAGE_EXIT
    cpu, wall = time.process_time(), time.monotonic()
    result = what_if(
        contacts, baseline, candidate, (args.since, args.until), args.seed, progress=_Bar()
    )
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    args.html.write_text(html_report(result), encoding="utf-8")
    if args.json is not None:
        text = json.dumps(result, indent=2)
        if str(args.json) == "-":
            print(text)
        else:
            args.json.write_text(text + "\n", encoding="utf-8")
    if args.json is None or str(args.json) != "-":
        print(text_report(result))
    print(
        f"replayed {len(contacts)} contacts in {wall:.1f} s ({cpu:.1f} s CPU);"
        f" HTML report: {args.html.resolve()}",
        file=sys.stderr,
    )
    return 0


COMMANDS = {
    "check": Command("validate policy files", check, _check_arguments),
    "explain": Command("show the decision for an event, step by step", explain, _explain_arguments),
    "whatif": Command(
        "replay recorded contacts through a candidate policy (offline simulation)",
        whatif,
        _whatif_arguments,
    ),
}
