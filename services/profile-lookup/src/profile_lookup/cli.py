"""`python -m profile_lookup [serve | migrate | import FILE | check FILE | explain ...]`.

- `serve` (the default): consume contacts.inbound and contacts.lifecycle, produce
  contacts.enriched, serve the admin API, /healthz, /readyz and /metrics.
- `migrate`: bring the `profiles` schema up to date (safe to run again).
- `import FILE [--format csv|jsonl]`: bulk upsert customers (`-` reads stdin), with a
  progress line on stderr and the report (JSON) on stdout.
- `check FILE [--format csv|jsonl]`: the same report, nothing written: what would be
  imported, updated and rejected against the customers stored now.
- `explain --phone X | --email Y [--country CC]`: the identity normalised as the
  consumer normalises it, and the customers it finds (known, unknown or ambiguous).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import stat
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import IO

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from profile_lookup.config import SERVICE, ProfilesSettings
from profile_lookup.customer_repository import Transactions, postgres_transactions, rehearsal
from profile_lookup.customers import Customers
from profile_lookup.domain.customers import RecordError
from profile_lookup.domain.normalise import EMAIL, PHONE
from profile_lookup.importer import Importer, ImportFormat, ImportReport
from profile_lookup.wiring import build
from switchboard_runtime import cli, db
from switchboard_runtime.audit import cli_actor
from switchboard_runtime.logs import configure_logging
from switchboard_runtime.reach import reported_unreachable
from switchboard_runtime.settings import load_settings

BAR_WIDTH = 30

Opening = Callable[[async_sessionmaker[AsyncSession]], AbstractAsyncContextManager[Transactions]]
"""How a command reaches the customers: committed (`import`, `explain`) or rehearsed (`check`)."""


def main(argv: list[str] | None = None) -> int:
    return cli.main(SERVICE, build, commands=COMMANDS, argv=argv)


def run_import(args: argparse.Namespace) -> int:
    return _import(args, _committed, checked=False)


def run_check(args: argparse.Namespace) -> int:
    return _import(args, rehearsal, checked=True)


def run_explain(args: argparse.Namespace) -> int:
    settings = _settings()
    kind, raw = (PHONE, args.phone) if args.phone is not None else (EMAIL, args.email)

    async def explain(customers: Customers) -> int:
        try:
            found = await customers.lookup(kind, raw, args.country)
        except RecordError as exc:
            print(f"{SERVICE.package}: {exc}", file=sys.stderr)
            return 1
        print(found.model_dump_json(indent=2))
        return 0

    with reported_unreachable(SERVICE.package, settings):
        return asyncio.run(_with_customers(settings, _committed, explain))


def _file_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="path, or - for standard input")
    parser.add_argument(
        "--format", choices=[f.value for f in ImportFormat], help="default: by suffix"
    )


def _explain_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--phone", help="a phone number, spelled any way a channel would")
    which.add_argument("--email", help="an email address, spelled any way a channel would")
    parser.add_argument("--country", help="region for a nationally written phone")


COMMANDS = {
    "import": cli.Command(
        "bulk import customers from CSV or JSON Lines", run_import, _file_arguments
    ),
    "check": cli.Command(
        "validate an import file without writing: what would be imported or rejected",
        run_check,
        _file_arguments,
    ),
    "explain": cli.Command(
        "normalise a phone or an email and show which customers it finds",
        run_explain,
        _explain_arguments,
    ),
}


def _settings() -> ProfilesSettings:
    settings = load_settings(ProfilesSettings)
    configure_logging(SERVICE.name, settings.log_level)
    return settings


@asynccontextmanager
async def _committed(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[Transactions]:
    yield postgres_transactions(sessions)


async def _with_customers(
    settings: ProfilesSettings, opening: Opening, use: Callable[[Customers], Awaitable[int]]
) -> int:
    engine = db.engine_from(settings)
    try:
        async with opening(db.make_sessionmaker(engine)) as transactions:
            customers = Customers(
                transactions,
                default_region=settings.default_region,
                tiers=settings.tiers,
                actor=cli_actor(),
            )
            return await use(customers)
    finally:
        await engine.dispose()


def _import(args: argparse.Namespace, opening: Opening, *, checked: bool) -> int:
    settings = _settings()
    try:
        stream: IO[bytes] = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")  # noqa: SIM115
    except OSError as exc:
        print(f"cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 1
    fmt = _format(args.file, args.format)

    async def load(customers: Customers) -> int:
        importer = Importer(customers, chunk_rows=settings.import_chunk_rows)
        report = await importer.run(stream, fmt, _progress(stream))
        print(file=sys.stderr)
        if checked:
            print("checked only: nothing was written", file=sys.stderr)
        print(report.result().model_dump_json(indent=2))
        return 0

    with stream, reported_unreachable(SERVICE.package, settings):
        return asyncio.run(_with_customers(settings, opening, load))


def _format(path: str, given: str | None) -> ImportFormat:
    if given:
        return ImportFormat(given)
    suffix = Path(path).suffix.lower()
    return ImportFormat.CSV if suffix == ".csv" else ImportFormat.JSONL


def _progress(stream: IO[bytes]) -> Callable[[ImportReport, int], None]:
    """A progress line on stderr: a bar when the size is known, the counts and the rate."""
    size = os.fstat(stream.fileno())
    total = size.st_size if stat.S_ISREG(size.st_mode) else 0
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

    return progress
