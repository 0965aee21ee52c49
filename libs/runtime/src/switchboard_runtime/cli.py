"""Every service's command line: `python -m <package> serve | migrate | <its own commands>`.

`serve` (the default) runs the service under the host; `migrate` brings its schema up
to date. A service adds its own commands (`check`, `explain`, `import` ...) as
`Command`s. Errors a user can fix (settings, a policy file, an unreachable broker or
database) print one line and exit 2; anything else is a bug and shows its traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from switchboard_runtime.errors import ConfigurationError
from switchboard_runtime.host import Build, serve
from switchboard_runtime.logs import configure_logging
from switchboard_runtime.migrations import upgrade
from switchboard_runtime.reach import reported_unreachable
from switchboard_runtime.service import ServiceSpec
from switchboard_runtime.settings import load_settings

USAGE_EXIT = 2


@dataclass(frozen=True)
class Command:
    help: str
    run: Callable[[argparse.Namespace], int]
    arguments: Callable[[argparse.ArgumentParser], None] = lambda _: None


def main(
    spec: ServiceSpec,
    build: Build,
    *,
    commands: Mapping[str, Command] | None = None,
    argv: list[str] | None = None,
) -> int:
    commands = commands or {}
    parser = argparse.ArgumentParser(prog=f"python -m {spec.package}")
    chosen = parser.add_subparsers(dest="command")
    chosen.add_parser("serve", help="run the service (the default)")
    chosen.add_parser("migrate", help=f"apply the migrations of the {spec.schema} schema")
    for name, command in commands.items():
        command.arguments(chosen.add_parser(name, help=command.help))
    args = parser.parse_args(argv)
    try:
        if args.command in commands:
            return commands[args.command].run(args)
        settings = load_settings(spec.settings)
        with reported_unreachable(spec.package, settings):
            if args.command == "migrate":
                upgrade(settings.database_url.get_secret_value(), spec.migrations, spec.schema)
                print(f"schema {spec.schema} is up to date", file=sys.stderr)
                return 0
            configure_logging(spec.name, settings.log_level)
            asyncio.run(serve(spec, settings, build))
    except ConfigurationError as exc:
        print(f"{spec.package}: {exc}", file=sys.stderr)
        return USAGE_EXIT
    return 0
