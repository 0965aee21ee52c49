"""Entry point: `python -m sla_monitor [serve | migrate | check FILE... | explain --decision FILE]`."""

from __future__ import annotations

import sys

from sla_monitor.cli import COMMANDS
from sla_monitor.config import SERVICE
from sla_monitor.wiring import build
from switchboard_runtime import cli


def main(argv: list[str] | None = None) -> int:
    return cli.main(SERVICE, build, commands=COMMANDS, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
