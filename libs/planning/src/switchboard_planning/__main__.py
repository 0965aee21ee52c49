"""`python -m switchboard_planning staffing ... | size PLAN.yaml`: agents needed.

- `staffing`: one queue in one interval, from its arrival rate and handle time.
- `size`: a whole new team from monthly volume, with the vendor alternative priced
  (see libs/planning/examples/team.yaml).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

import yaml
from pydantic import ValidationError

from switchboard_planning.sizing import TeamPlan, TeamSizing, size
from switchboard_planning.staffing import Staffing, Target, agents_needed


def _target(text: str) -> tuple[float, float]:
    """`80/20`: 80% within 20 s."""
    share, _, within = text.partition("/")
    try:
        return float(share) / 100, float(within)
    except ValueError:
        message = f"expected SHARE/SECONDS such as 80/20, not {text!r}"
        raise argparse.ArgumentTypeError(message) from None


def _staffing_line(s: Staffing) -> str:
    abandons = f", {s.abandons:.1%} abandon" if s.abandons is not None else ""
    return (
        f"{s.arrivals_per_h:,.0f}/h x {s.handle_s:.0f} s = {s.traffic_erlangs:.1f} Erlangs:"
        f" {s.agents} agents on the phones ({s.scheduled} scheduled),"
        f" {s.service_level:.1%} within target, mean wait {s.mean_wait_s:.1f} s,"
        f" occupancy {s.occupancy:.0%}{abandons}"
    )


def _render(sizing: TeamSizing) -> str:
    lines = [
        f"{'channel':<10} {'contacts/mo':>12} {'in-house':>10} {'peak/h':>8} {'agents':>7}"
        f" {'sched':>6} {'FTE':>6} {'SL':>6}"
    ]
    for c in sizing.channels:
        lines.append(
            f"{c.channel:<10} {c.contacts_per_month:>12,.0f} {c.in_house_contacts:>10,.0f}"
            f" {c.peak.arrivals_per_h:>8,.0f} {c.peak.agents:>7} {c.peak.scheduled:>6}"
            f" {c.fte:>6.1f} {c.peak.service_level:>6.1%}"
        )
    lines += [
        f"in-house team: {sizing.fte:.1f} FTE, {sizing.in_house_cost_per_month:,.0f} per month",
        f"to the vendor: {sizing.vendor_contacts_per_month:,.0f} contacts,"
        f" {sizing.vendor_cost_per_month:,.0f} per month",
    ]
    if sizing.around_the_clock_fte:
        lines.append(
            f"covering the closed hours in-house instead: {sizing.around_the_clock_fte:.1f} more"
            f" FTE, {sizing.around_the_clock_extra_cost:,.0f} per month"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m switchboard_planning")
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("staffing", help="agents needed for one queue and interval")
    one.add_argument("--arrivals-per-h", type=float, required=True)
    one.add_argument("--handle-s", type=float, required=True, help="average handle time")
    one.add_argument("--target", type=_target, default=(0.8, 20.0), help="e.g. 80/20")
    one.add_argument("--concurrency", type=int, default=1, help="contacts per agent at once")
    one.add_argument("--shrinkage", type=float, default=0.3)
    one.add_argument("--max-occupancy", type=float, default=0.85)
    one.add_argument("--patience-s", type=float, help="callers' mean patience (Erlang A)")
    one.add_argument("--json", action="store_true")
    team = commands.add_parser("size", help="size a new team from monthly volume")
    team.add_argument("plan", type=Path, help="a plan file (YAML or JSON)")
    team.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        if args.command == "staffing":
            share, within = args.target
            staffing = agents_needed(
                args.arrivals_per_h,
                args.handle_s,
                Target(share, within, args.max_occupancy, args.shrinkage),
                args.concurrency,
                args.patience_s,
            )
            print(json.dumps(asdict(staffing)) if args.json else _staffing_line(staffing))
            return 0
        plan = TeamPlan.model_validate(yaml.safe_load(args.plan.read_text()))
        sizing = size(plan)
        print(json.dumps(asdict(sizing), indent=2) if args.json else _render(sizing))
        return 0
    except (ValueError, ValidationError, OSError, yaml.YAMLError) as exc:
        print(f"switchboard_planning: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
