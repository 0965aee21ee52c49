"""The audit record every access to customer data leaves, whoever serves it.

A record names who (`actor`: a token's name, a JWT's subject, or `cli:<os user>`), what
(`AuditAction`), when, which customer ids and the outcome, and nothing else: never a
value read or written, so an audit trail holds no personal data to erase. A service
stores records in an append-only table in the same transaction as the action, and
publishes each as a `switchboard.audit.recorded.v1` event (`event`) from there.
"""

from __future__ import annotations

import getpass
import re
from collections.abc import Iterator, Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from switchboard_events import AuditAction, AuditOutcome, AuditRecorded, AuditRecordedData
from switchboard_events.audit import MAX_AUDITED_CUSTOMERS, audit_event_id

MAX_ACTOR_CHARS = 128
_NOT_PRINTABLE = re.compile(r"[^ -~]")


class AuditRecord(BaseModel):
    """One stored record (`audit_id` is given by the table)."""

    model_config = ConfigDict(frozen=True)

    audit_id: int
    at: datetime
    actor: str
    action: AuditAction
    customer_ids: list[str] = Field(description="The customers concerned; ids only.")
    outcome: AuditOutcome

    def event(self, source: str, produced: datetime) -> AuditRecorded:
        """The event for this record; its id is derived, so a second publish repeats it."""
        ident = str(self.audit_id)
        return AuditRecorded(
            id=audit_event_id(source, ident),
            source=source,
            subject=ident,
            time=self.at,
            producedtime=produced,
            data=AuditRecordedData(
                audit_id=ident,
                actor=self.actor,
                action=self.action,
                customer_ids=self.customer_ids,
                outcome=self.outcome,
                at=self.at,
            ),
        )


def actor_name(name: str) -> str:
    """A principal's name as the trail stores it: printable ASCII, at most 128 characters
    (a JWT subject may be anything)."""
    return _NOT_PRINTABLE.sub("?", name)[:MAX_ACTOR_CHARS] or "?"


def cli_actor() -> str:
    """Who runs a command line: `cli:<os user>`, or `cli` when the OS does not say."""
    try:
        return actor_name(f"cli:{getpass.getuser()}")
    except (OSError, KeyError):
        return "cli"


def chunks(customer_ids: Sequence[str]) -> Iterator[list[str]]:
    """Customer ids in groups that fit one record (a big import chunk becomes several);
    one empty group when there are none (a lookup that found nobody is recorded too)."""
    ids = list(customer_ids)
    yield ids[:MAX_AUDITED_CUSTOMERS]
    for start in range(MAX_AUDITED_CUSTOMERS, len(ids), MAX_AUDITED_CUSTOMERS):
        yield ids[start : start + MAX_AUDITED_CUSTOMERS]
