"""`python -m profile_lookup [run | migrate | import FILE [--format csv|jsonl]]`.

- `run` (the default): consume contacts.inbound and contacts.lifecycle, produce
  contacts.enriched, serve the admin API, /healthz, /readyz and /metrics.
- `migrate`: bring the `profiles` schema up to date (safe to run again).
- `import FILE`: bulk upsert customers from CSV or JSON Lines (`-` reads stdin),
  with a progress line on stderr and the report at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import stat
import sys
import time
from pathlib import Path
from typing import IO

from profile_lookup.config import SCHEMA, SERVICE_NAME, ProfilesSettings
from profile_lookup.consumer import build, customers_service
from profile_lookup.importer import Importer, ImportFormat, ImportReport
from switchboard_runtime import db
from switchboard_runtime.errors import ConfigurationError
from switchboard_runtime.host import serve
from switchboard_runtime.logs import configure_logging
from switchboard_runtime.migrations import upgrade
from switchboard_runtime.reach import reported_unreachable
from switchboard_runtime.settings import load_settings

BAR_WIDTH = 30


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m profile_lookup", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", help="run the service (the default)")
    commands.add_parser("migrate", help="apply the database migrations of the profiles schema")
    load = commands.add_parser("import", help="bulk import customers from CSV or JSON Lines")
    load.add_argument("file", help="path, or - for standard input")
    load.add_argument(
        "--format", choices=[f.value for f in ImportFormat], help="default: by suffix"
    )
    args = parser.parse_args(argv)

    try:
        settings = load_settings(ProfilesSettings)
    except ConfigurationError as exc:
        print(exc, file=sys.stderr)
        return 2
    configure_logging(SERVICE_NAME, settings.log_level)
    with reported_unreachable("profile_lookup", settings):
        return _command(args, settings)


def _command(args: argparse.Namespace, settings: ProfilesSettings) -> int:
    if args.command == "migrate":
        upgrade(settings.database_url.get_secret_value(), settings.migrations_dir, SCHEMA)
        print(f"schema {SCHEMA} is up to date", file=sys.stderr)
        return 0
    if args.command == "import":
        try:
            stream: IO[bytes] = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")  # noqa: SIM115
        except OSError as exc:
            print(f"cannot read {args.file}: {exc.strerror}", file=sys.stderr)
            return 1
        with stream:
            return asyncio.run(_import(settings, stream, _format(args.file, args.format)))
    asyncio.run(serve(build(settings)))
    return 0


def _format(path: str, given: str | None) -> ImportFormat:
    if given:
        return ImportFormat(given)
    suffix = Path(path).suffix.lower()
    return ImportFormat.CSV if suffix == ".csv" else ImportFormat.JSONL


async def _import(settings: ProfilesSettings, stream: IO[bytes], fmt: ImportFormat) -> int:
    size = os.fstat(stream.fileno())
    total = size.st_size if stat.S_ISREG(size.st_mode) else 0
    engine = db.engine_from(settings)
    customers = customers_service(settings, db.make_sessionmaker(engine))
    importer = Importer(customers, chunk_rows=settings.import_chunk_rows)
    started = time.monotonic()

    def progress(report: ImportReport, bytes_read: int) -> None:
        done = report.imported + report.updated + report.rejected
        rate = done / max(time.monotonic() - started, 1e-6)
        bar = ""
        if total:
            filled = int(BAR_WIDTH * min(bytes_read / total, 1.0))
            bar = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {bytes_read / total:4.0%} "
        line = (
            f"\r{bar}{done} rows: {report.imported} imported, {report.updated} updated, "
            f"{report.rejected} rejected ({rate:,.0f} rows/s)"
        )
        print(line, end="", file=sys.stderr, flush=True)

    try:
        report = await importer.run(stream, fmt, progress)
    finally:
        await engine.dispose()
    print(file=sys.stderr)
    print(report.result().model_dump_json(indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
