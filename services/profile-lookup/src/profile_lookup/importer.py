"""Bulk import of customers from CSV or JSON Lines: streaming, idempotent, row by row verdicts.

Rows are read one at a time from a binary stream and upserted in chunks (one
transaction each), so memory stays flat for exports of any size and an interrupted
import can simply be run again.

- Upsert key: `customer_id` when the row has one, else `external_ref` (a new customer
  given only a CRM id gets an id derived from it, so re-importing creates no twins).
- Fields present in a row replace the stored ones; absent fields (an empty CSV cell)
  are left alone. Identities given in a row (`identities`, `phones`, `emails`)
  replace the customer's identity set; a row without any keeps the stored set.
- A row that cannot be used is rejected with its line number and the reason; the
  rest of the file goes on. A row for a customer that was merged away is rejected
  (import into the survivor instead).

CSV: a header line naming the columns (`customer_id, external_ref, tier, segment,
display_name, language, region, timezone, country, lifetime_value, contract_id, phones,
emails`;
`phone` and `email` are accepted too). Several phones or emails in one cell are
separated by `|`.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import IO, Any

from profile_lookup import metrics
from profile_lookup.customers import Customers, RowVerdict
from profile_lookup.domain.customers import CustomerRecord, RecordError
from profile_lookup.schemas import ImportResult, Rejection

MAX_REPORTED_REJECTIONS = 1000
LIST_SEPARATOR = "|"
_LIST_COLUMNS = {"phones": "phones", "phone": "phones", "emails": "emails", "email": "emails"}


class ImportFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


@dataclass
class ImportReport:
    """What an import did; `rejections` lists the first 1000 rejected rows."""

    lines: int = 0
    imported: int = 0
    updated: int = 0
    rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    seconds: float = 0.0

    def reject(self, line: int, reason: str) -> None:
        self.rejected += 1
        metrics.IMPORT_ROWS.labels("rejected").inc()
        if len(self.rejections) < MAX_REPORTED_REJECTIONS:
            self.rejections.append(Rejection(line=line, reason=reason))

    def result(self) -> ImportResult:
        return ImportResult(
            lines=self.lines,
            imported=self.imported,
            updated=self.updated,
            rejected=self.rejected,
            rejections=self.rejections,
            rejections_truncated=self.rejected > len(self.rejections),
            seconds=round(self.seconds, 3),
        )


class _Lines:
    """Decoded lines of a binary stream, one at a time, remembering which were not UTF-8."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.number = 0
        self.bytes_read = 0
        self.not_utf8: set[int] = set()

    def __iter__(self) -> Iterator[str]:
        for raw in self._stream:
            self.number += 1
            self.bytes_read += len(raw)
            if self.number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                self.not_utf8.add(self.number)
                yield raw.decode("utf-8", errors="replace")


Row = tuple[int, object]
"""(line number, parsed object or a RecordError)."""


def jsonl_rows(lines: _Lines) -> Iterator[Row]:
    for text in lines:
        if not text.strip():
            continue
        if lines.number in lines.not_utf8:
            yield lines.number, RecordError("the line is not UTF-8")
            continue
        try:
            yield lines.number, json.loads(text)
        except ValueError as exc:
            yield lines.number, RecordError(f"not JSON: {str(exc).split(':')[0]}")


def csv_rows(lines: _Lines) -> Iterator[Row]:
    reader = csv.reader(iter(lines))
    header = next(reader, None)
    if header is None:
        return
    columns = [name.strip().lower() for name in header]
    start = lines.number
    for cells in reader:
        first, start = start + 1, lines.number
        if not any(cell.strip() for cell in cells):
            continue
        if lines.not_utf8 & set(range(first, lines.number + 1)):
            yield first, RecordError("the line is not UTF-8")
            continue
        if len(cells) > len(columns):
            yield first, RecordError(f"{len(cells)} cells but the header names {len(columns)}")
            continue
        row: dict[str, Any] = {}
        for name, cell in zip(columns, cells, strict=False):
            value = cell.strip()
            if not value:
                continue
            if name in _LIST_COLUMNS:
                items = [v.strip() for v in value.split(LIST_SEPARATOR) if v.strip()]
                row.setdefault(_LIST_COLUMNS[name], []).extend(items)
            else:
                row[name] = value
        yield first, row


class Importer:
    """Validates rows and upserts them chunk by chunk, through the customers service."""

    def __init__(self, customers: Customers, *, chunk_rows: int = 1000) -> None:
        self._customers = customers
        self._chunk_rows = chunk_rows

    async def run(
        self,
        stream: IO[bytes],
        fmt: ImportFormat,
        progress: Callable[[ImportReport, int], None] | None = None,
    ) -> ImportReport:
        """Import every row of `stream`; `progress(report, bytes_read)` after each chunk."""
        started = time.monotonic()
        report = ImportReport()
        lines = _Lines(stream)
        rows = csv_rows(lines) if fmt == ImportFormat.CSV else jsonl_rows(lines)
        chunk: list[tuple[int, CustomerRecord]] = []
        keys: set[str] = set()
        for number, parsed in rows:
            try:
                if isinstance(parsed, RecordError):
                    raise parsed
                record = self._customers.record(parsed)
            except RecordError as exc:
                report.reject(number, str(exc))
                continue
            row_keys = _keys(record)
            if keys & row_keys or len(chunk) >= self._chunk_rows:
                # The same customer twice in one chunk: write the first before reading on.
                await self._flush(chunk, report)
                if progress:
                    progress(report, lines.bytes_read)
                chunk, keys = [], set()
            chunk.append((number, record))
            keys |= row_keys
        await self._flush(chunk, report)
        report.lines = lines.number
        report.seconds = time.monotonic() - started
        if progress:
            progress(report, lines.bytes_read)
        return report

    async def _flush(self, chunk: list[tuple[int, CustomerRecord]], report: ImportReport) -> None:
        while chunk:
            verdicts, chunk = await self._customers.upsert(chunk)
            _count(verdicts, report)


def _count(verdicts: list[RowVerdict], report: ImportReport) -> None:
    for line, verdict in verdicts:
        if verdict == "imported":
            report.imported += 1
            metrics.IMPORT_ROWS.labels("imported").inc()
        elif verdict == "updated":
            report.updated += 1
            metrics.IMPORT_ROWS.labels("updated").inc()
        else:
            report.reject(line, verdict)


def _keys(record: CustomerRecord) -> set[str]:
    keys = set()
    if record.customer_id:
        keys.add("id:" + record.customer_id)
    if record.external_ref:
        keys.add("ref:" + record.external_ref)
    return keys
