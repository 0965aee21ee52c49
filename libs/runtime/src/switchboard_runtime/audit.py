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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from switchboard_events import AuditAction, AuditOutcome, AuditRecorded, AuditRecordedData
from switchboard_events.audit import MAX_AUDITED_CUSTOMERS, audit_event_id

MAX_ACTOR_CHARS = 128
_NOT_PRINTABLE = re.compile(r"[^ -~]")


@dataclass(frozen=True)
class AuditEntry:
    """A record to store: what `AuditRecord` holds but the id the table gives it."""

    actor: str
    action: AuditAction
    customer_ids: tuple[str, ...]
    outcome: AuditOutcome
    at: datetime


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


def entries(
    actor: str,
    action: AuditAction,
    customer_ids: Sequence[str],
    outcome: AuditOutcome,
    at: datetime,
) -> list[AuditEntry]:
    """The records of one action: one per 1000 customer ids (a big import chunk becomes
    several), and one with none when none are concerned (a lookup that found nobody)."""
    ids = list(dict.fromkeys(customer_ids))
    groups = [ids[i : i + MAX_AUDITED_CUSTOMERS] for i in range(0, len(ids), MAX_AUDITED_CUSTOMERS)]
    return [AuditEntry(actor, action, tuple(g), outcome, at) for g in groups or [[]]]
