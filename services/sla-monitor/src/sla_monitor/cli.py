"""sla-monitor's own commands: `check FILE...` validates policy files, `explain` shows the
targets and clocks of a routing decision (and its lifecycle), and why."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

from sla_monitor.api import parse_decision, parse_steps
from sla_monitor.config import SlaSettings
from sla_monitor.domain.compiled import SlaPolicy, load_policy
from sla_monitor.domain.errors import PolicyInvalid
from sla_monitor.domain.explain import explain, render
from sla_monitor.service import decision_of
from switchboard_events import InvalidEvent
from switchboard_runtime.cli import Command
from switchboard_runtime.clock import SYSTEM_CLOCK
from switchboard_runtime.policies import policy_version
from switchboard_runtime.settings import load_settings


def read_policy(path: Path) -> SlaPolicy:
    """Read and validate a policy file; PolicyInvalid (every problem) otherwise."""
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise PolicyInvalid([f"(file): cannot read {path}: {exc.strerror}"]) from None
    return load_policy(content, policy_version(content))


def check(args: argparse.Namespace) -> int:
    worst = 0
    for path in args.files:
        try:
            policy = read_policy(path)
        except PolicyInvalid as exc:
            print(f"{path}: {exc}")
            worst = 1
        else:
            print(f"{path}: valid: {policy.summary()}")
    return worst


def _check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", type=Path)


def _load_events(path: Path) -> list[object]:
    text = path.read_text()
    stripped = text.strip()
    if stripped.startswith("["):
        loaded = json.loads(stripped)
        return list(loaded)
    if stripped.startswith("{") and "\n{" not in stripped:
        return [json.loads(stripped)]
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def explain_decision(args: argparse.Namespace) -> int:
    policy_path: Path = args.policy or load_settings(SlaSettings).policy_path
    try:
        policy = read_policy(policy_path)
        (raw,) = _load_events(args.decision)
        decision = parse_decision(raw)
        steps = parse_steps(_load_events(args.lifecycle)) if args.lifecycle else []
    except PolicyInvalid as exc:
        print(f"{policy_path}: {exc}", file=sys.stderr)
        return 2
    except (InvalidEvent, ValueError, OSError) as exc:
        print(f"cannot explain: {exc}", file=sys.stderr)
        return 2
    now = datetime.fromisoformat(args.at).timestamp() if args.at else SYSTEM_CLOCK.time()
    explanation = explain(policy, decision_of(decision).decision, steps, now)
    print(json.dumps(explanation, indent=2) if args.json else render(explanation))
    return 0


def _explain_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--decision", type=Path, required=True, help="a routing.decided event (JSON)"
    )
    parser.add_argument("--lifecycle", type=Path, help="lifecycle events (JSON list or JSON lines)")
    parser.add_argument(
        "--policy", type=Path, help="policy file (default: SLA_POLICY_PATH or the shipped one)"
    )
    parser.add_argument("--at", help="evaluate the clocks at this time (ISO 8601; default now)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


COMMANDS = {
    "check": Command("validate SLA policy files", check, _check_arguments),
    "explain": Command(
        "the targets and clocks of a routing decision, and why",
        explain_decision,
        _explain_arguments,
    ),
}
