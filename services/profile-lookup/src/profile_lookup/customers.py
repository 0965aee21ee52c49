"""The customers use cases: the write rules of the admin API and of the bulk import, once.

Both write customer records through here, so a rule (who owns a CRM id, that a customer
merged away takes no writes, the default tier, how a lost race reads) has one wording.
Errors: `RecordError` (the input is invalid), `NotFound`, `Erased` and `Conflict` (the
stored state refuses it); each message names what was wrong.

Every use case is audited as `actor`: the record of what was done is written in the
action's own transaction (it commits with it, or neither does); a refusal or a failure
is recorded afterwards, in a transaction of its own, with its outcome. Records name
customer ids only, never a value read or written.
"""

from __future__ import annotations

import copy
import logging
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, NoReturn

from profile_lookup.customer_repository import CustomerRepository, KeyTaken, Transactions
from profile_lookup.domain.customers import CustomerIn, CustomerRecord, RecordError, validate_record
from profile_lookup.domain.normalise import (
    PHONE,
    Invalid,
    Withheld,
    known_region,
    normalise_email,
    normalise_phone,
)
from profile_lookup.schemas import (
    Contact,
    Customer,
    CustomerRow,
    Erasure,
    IdentityAdded,
    Lookup,
    Merge,
    RecentContacts,
    Removal,
)
from switchboard_events import AuditAction, AuditOutcome
from switchboard_runtime import audit
from switchboard_runtime.clock import SYSTEM_CLOCK, Clock
from switchboard_runtime.pagination import DEFAULT_PAGE_SIZE, page_of
from switchboard_runtime.retry import is_transient

log = logging.getLogger(__name__)

LOST_RACE = "conflicts with another customer (customer_id or external_ref)"

RowVerdict = tuple[int, str]
"""(line, "imported" | "updated" | the reason the row was rejected)."""


class CustomerError(Exception):
    """A request the stored customers refuse; the message says why."""


class NotFound(CustomerError):
    pass


class Erased(CustomerError):
    pass


class Conflict(CustomerError):
    pass


_OUTCOMES: dict[type[Exception], AuditOutcome] = {
    RecordError: AuditOutcome.INVALID,
    NotFound: AuditOutcome.NOT_FOUND,
    Erased: AuditOutcome.ERASED,
    Conflict: AuditOutcome.CONFLICT,
    KeyTaken: AuditOutcome.CONFLICT,
}


class Customers:
    """The customers use cases, each in one transaction of `transaction`, audited as `actor`."""

    def __init__(
        self,
        transaction: Transactions,
        *,
        default_region: str,
        tiers: Sequence[str],
        actor: str,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._transaction = transaction
        self.default_region = default_region
        self.tiers = list(tiers)
        self.actor = audit.actor_name(actor)
        self._clock = clock

    def acting_as(self, actor: str) -> Customers:
        """The same use cases, audited as `actor` (a request's principal)."""
        other = copy.copy(self)
        other.actor = audit.actor_name(actor)
        return other

    # --- audit ------------------------------------------------------------------------

    @asynccontextmanager
    async def _audited(
        self,
        action: AuditAction,
        customer_ids: Sequence[str] = (),
        *,
        retried: tuple[type[Exception], ...] = (),
        refused: Mapping[AuditOutcome, Sequence[str]] | None = None,
    ) -> AsyncIterator[tuple[CustomerRepository, list[str]]]:
        """One audited transaction: the block adds the customer ids it concerns to the list;
        the record commits with the block's writes, or a refusal is recorded after. An
        error of the `retried` kinds is not: the caller tries again, and that is recorded.
        `refused`, filled by the block, holds the ids of parts it refused and why (an
        import's rejected rows): recorded with that outcome in the same transaction, and
        no `ok` record when nothing else was concerned."""
        concerned = list(customer_ids)
        try:
            async with self._transaction() as repo:
                yield repo, concerned
                refusals = [
                    entry
                    for outcome, ids in (refused or {}).items()
                    if ids
                    for entry in self._entries(action, ids, outcome)
                ]
                done = concerned or not refusals
                ok = self._entries(action, concerned, AuditOutcome.OK) if done else []
                await repo.record_audit(ok + refusals)
        except Exception as exc:
            if is_transient(exc) or isinstance(exc, retried):
                # Nothing was done: the database is out of reach (nothing can be recorded),
                # or the caller tries again and that try is recorded as it ends.
                raise
            outcome = _OUTCOMES.get(type(exc), AuditOutcome.ERROR)
            try:
                await self.record_refusal(action, concerned, outcome)
            except Exception:
                # The action's own error is the one to raise; this one is logged.
                log.exception("could not record a refused action in the audit trail")
            raise

    async def record_refusal(
        self, action: AuditAction, customer_ids: Sequence[str], outcome: AuditOutcome
    ) -> None:
        """Record an action refused before it ran (a rate limit), or one that failed."""
        async with self._transaction() as repo:
            await repo.record_audit(self._entries(action, customer_ids, outcome))

    def _entries(
        self, action: AuditAction, customer_ids: Sequence[str], outcome: AuditOutcome
    ) -> list[audit.AuditEntry]:
        return audit.entries(self.actor, action, customer_ids, outcome, self._clock.now())

    # --- input ------------------------------------------------------------------------

    def identity(self, kind: str, value: str, country: str | None = None) -> str:
        """The normalised identity, exactly as the consumer normalises it."""
        region = self.default_region
        if country is not None:
            region = known_region(country) or _invalid(f"country: unknown region {country!r}")
        result = normalise_phone(value, region) if kind == PHONE else normalise_email(value)
        if isinstance(result, Withheld):
            _invalid("phone: a withheld-number placeholder, not a number")
        if isinstance(result, Invalid):
            _invalid(f"{kind} unparseable: {result.reason}")
        return result

    def record(self, data: object, *, need_key: bool = True) -> CustomerRecord:
        """A validated record; raises `RecordError` naming the field."""
        return validate_record(
            data, default_region=self.default_region, tiers=self.tiers, need_key=need_key
        )

    # --- reads ------------------------------------------------------------------------

    async def lookup(
        self,
        kind: str,
        raw: str,
        country: str | None = None,
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        after: str | None = None,
        profiles: bool = True,
    ) -> Lookup:
        """Customers holding a phone or an email, spelled any way a channel would: a page
        of `limit` ids in order, after the customer id `after`, with their profiles unless
        `profiles` is false (a caller who may only identify). The status counts them all."""
        async with self._audited(AuditAction.CUSTOMER_LOOKUP) as (repo, concerned):
            value = self.identity(kind, raw, country)
            ids = sorted(await repo.customers_with_identity(kind, value))
            shown, cursor = page_of(
                [i for i in ids if after is None or i > after], limit, lambda i: [i]
            )
            found = await repo.get_customers(shown) if profiles else {}
            concerned.extend(shown)
        state = "unknown" if not ids else "known" if len(ids) == 1 else "ambiguous"
        return Lookup.model_validate(
            {
                "kind": kind,
                "normalised": value,
                "status": state,
                "customer_ids": shown,
                "customers": [CustomerRow.model_validate(found[i]) for i in shown if i in found],
                "next_cursor": cursor,
            }
        )

    async def get(self, customer_id: str) -> Customer:
        async with self._audited(AuditAction.CUSTOMER_READ, [customer_id]) as (repo, _):
            return await _view(repo, customer_id)

    async def recent_contacts(
        self,
        customer_id: str,
        limit: int = DEFAULT_PAGE_SIZE,
        after: tuple[datetime, str] | None = None,
    ) -> RecentContacts:
        """A page of the customer's contacts, newest first, after the previous page's last
        (`after`: its occurred_at and contact_id); the cursor is where this page ends."""
        async with self._audited(AuditAction.CONTACTS_READ, [customer_id]) as (repo, _):
            await _view(repo, customer_id)
            rows = await repo.recent_contacts(customer_id, limit + 1, after)
        page, cursor = page_of(rows, limit, lambda row: [row["occurred_at"], row["contact_id"]])
        contacts = [Contact.model_validate(row) for row in page]
        return RecentContacts(customer_id=customer_id, contacts=contacts, next_cursor=cursor)

    # --- writes -----------------------------------------------------------------------

    async def create(self, body: CustomerIn) -> Customer:
        """A new customer; its id is derived from its CRM id, or generated, when not given."""
        async with self._audited(AuditAction.CUSTOMER_CREATE) as (repo, concerned):
            record = self.record(body.model_dump(exclude_unset=True), need_key=False)
            if record.customer_id is None and record.external_ref is None:
                customer_id = f"cust-{uuid.uuid4()}"
            else:
                customer_id = record.new_id()
            concerned.append(customer_id)
            taken = await repo.get_customers([customer_id], _refs(record))
            if customer_id in taken:
                raise Conflict(f"customer {customer_id} already exists")
            await _write(repo, self._compose(customer_id, None, record, taken), record)
            return await _view(repo, customer_id)

    async def update(self, customer_id: str, body: CustomerIn) -> Customer:
        """Change the given fields; identities given replace the customer's set."""
        async with self._audited(AuditAction.CUSTOMER_UPDATE, [customer_id]) as (repo, _):
            if body.customer_id not in (None, customer_id):
                _invalid("customer_id cannot be changed")
            given = body.model_dump(exclude_unset=True) | {"customer_id": None}
            record = self.record(given, need_key=False)
            current = await _writable(repo, customer_id)
            owners = await repo.get_customers([], _refs(record))
            await _write(repo, self._compose(customer_id, current, record, owners), record)
            return await _view(repo, customer_id)

    async def upsert(
        self, chunk: Sequence[tuple[int, CustomerRecord]]
    ) -> tuple[list[RowVerdict], list[tuple[int, CustomerRecord]]]:
        """Upsert a chunk of import rows in one transaction (keyed by customer_id, else by
        external_ref); returns each line's verdict and the rows left for a next round (a
        customer named twice).

        The written rows are recorded as `ok`, the rows the rules reject (a CRM id another
        customer holds, a customer merged away) as `conflict`, each naming the customer the
        row is for. A chunk that loses a race (another writer took a CRM id between the
        check and the write) is rolled back, and recorded as nothing since nothing was
        done; its rows are then settled one by one, each recorded as it ends: written,
        rejected by the rules (the winner now visible), or a conflict if it loses again."""
        try:
            return await self._upsert(chunk, last_try=False)
        except KeyTaken:
            verdicts: list[RowVerdict] = []
            for line, record in chunk:
                try:
                    settled, _ = await self._upsert([(line, record)], last_try=True)
                except KeyTaken:
                    settled = [(line, LOST_RACE)]
                verdicts += settled
            return verdicts, []

    async def _upsert(
        self, chunk: Sequence[tuple[int, CustomerRecord]], *, last_try: bool
    ) -> tuple[list[RowVerdict], list[tuple[int, CustomerRecord]]]:
        # Unless this is the last try, a lost race is tried again, and recorded then.
        refused: dict[AuditOutcome, list[str]] = {}
        audited = self._audited(
            AuditAction.CUSTOMER_IMPORT, retried=() if last_try else (KeyTaken,), refused=refused
        )
        async with audited as (repo, concerned):
            existing = await repo.get_customers(
                [r.customer_id for _, r in chunk if r.customer_id],
                [ref for _, r in chunk for ref in _refs(r)],
            )
            by_ref = {row["external_ref"]: row for row in existing.values() if row["external_ref"]}
            verdicts: list[RowVerdict] = []
            later: list[tuple[int, CustomerRecord]] = []
            rows: dict[str, dict[str, Any]] = {}
            identities: dict[str, tuple[tuple[str, str], ...]] = {}
            for line, record in chunk:
                if record.customer_id:
                    target = existing.get(record.customer_id)
                else:
                    target = by_ref.get(record.external_ref or "")
                customer_id = target["customer_id"] if target else record.new_id()
                try:
                    row = self._compose(customer_id, target, record, existing)
                except Conflict as exc:
                    verdicts.append((line, str(exc)))
                    refused.setdefault(_OUTCOMES[type(exc)], []).append(customer_id)
                    continue
                if customer_id in rows:
                    later.append((line, record))
                    continue
                rows[customer_id] = row
                if record.identities is not None:
                    identities[customer_id] = record.identities
                verdicts.append((line, "updated" if target else "imported"))
            concerned.extend(rows)
            await repo.upsert_customers(list(rows.values()))
            await repo.replace_identities(identities)
        return verdicts, later

    async def delete(self, customer_id: str) -> Removal:
        """Delete a customer (and those merged into it) and its identities; its past
        contacts stay, unlinked."""
        async with self._audited(AuditAction.CUSTOMER_DELETE, [customer_id]) as (repo, concerned):
            return Removal.model_validate(await _remove(repo, customer_id, concerned, erase=False))

    async def erase(self, customer_id: str) -> Erasure:
        """Erase a customer's (and those merged into it) personal data; anonymised contact
        records stay (and the audit trail, which names the customer ids only)."""
        async with self._audited(AuditAction.CUSTOMER_ERASE, [customer_id]) as (repo, concerned):
            return Erasure.model_validate(await _remove(repo, customer_id, concerned, erase=True))

    async def add_identity(
        self, customer_id: str, kind: str, raw: str, country: str | None = None
    ) -> IdentityAdded:
        async with self._audited(AuditAction.IDENTITY_ADD, [customer_id]) as (repo, _):
            value = self.identity(kind, raw, country)
            await _writable(repo, customer_id)
            if not await repo.add_identities({customer_id: [(kind, value)]}):
                raise Conflict(f"customer {customer_id} already has this {kind}")
        return IdentityAdded.model_validate(
            {"customer_id": customer_id, "kind": kind, "value": value}
        )

    async def remove_identity(
        self, customer_id: str, kind: str, raw: str, country: str | None = None
    ) -> None:
        async with self._audited(AuditAction.IDENTITY_REMOVE, [customer_id]) as (repo, _):
            value = self.identity(kind, raw, country)
            await _writable(repo, customer_id)
            if not await repo.remove_identity(customer_id, kind, value):
                raise NotFound(f"customer {customer_id} has no such {kind}")

    async def merge(self, customer_id: str, source: str) -> Merge:
        """Merge `source` into `customer_id`: identities and history move, the source's CRM
        id resolves to the survivor from now on, and the merge is recorded."""
        async with self._audited(AuditAction.CUSTOMER_MERGE, [customer_id, source]) as (repo, _):
            if source == customer_id:
                raise Conflict("cannot merge a customer into itself")
            rows = await repo.lock_customers([source, customer_id])
            for cid in (customer_id, source):
                if cid not in rows:
                    await _missing(repo, cid)
                if rows[cid]["merged_into"]:
                    raise Conflict(
                        f"customer {cid} was already merged into {rows[cid]['merged_into']}"
                    )
            return Merge.model_validate(await repo.merge(source, customer_id))

    def _compose(
        self,
        customer_id: str,
        target: Mapping[str, Any] | None,
        record: CustomerRecord,
        known: Mapping[str, Mapping[str, Any]],
    ) -> dict[str, Any]:
        """The row to store for `record` over `target` (the stored row, if any), with the
        write rules checked; `known` holds the rows that may own the record's CRM id."""
        if target is not None and target["merged_into"]:
            raise Conflict(_merged(target))
        ref = record.external_ref
        for owner in known.values():
            if ref and owner["external_ref"] == ref and owner["customer_id"] != customer_id:
                raise Conflict(f"external_ref belongs to customer {owner['customer_id']}")
        row: dict[str, Any] = dict(target) if target is not None else {"customer_id": customer_id}
        row.update(record.fields)
        row["tier"] = row.get("tier") or self.tiers[0]
        return row


def _invalid(message: str) -> NoReturn:
    raise RecordError(message)


def _merged(row: Mapping[str, Any]) -> str:
    into = row["merged_into"]
    return f"customer {row['customer_id']} was merged into {into}: use {into} instead"


def _refs(record: CustomerRecord) -> list[str]:
    return [record.external_ref] if record.external_ref else []


async def _view(repo: CustomerRepository, customer_id: str) -> Customer:
    rows = await repo.get_customers([customer_id])
    if customer_id not in rows:
        await _missing(repo, customer_id)
    identities = await repo.identities_of([customer_id])
    pairs = identities.get(customer_id, [])
    return Customer.model_validate(
        rows[customer_id] | {"identities": [{"kind": k, "value": v} for k, v in pairs]}
    )


async def _missing(repo: CustomerRepository, customer_id: str) -> NoReturn:
    erased = await repo.erasure_of(customer_id)
    if erased:
        raise Erased(f"customer {customer_id} was erased at {erased['erased_at'].isoformat()}")
    raise NotFound(f"no customer {customer_id}")


async def _writable(repo: CustomerRepository, customer_id: str) -> dict[str, Any]:
    """The customer's row, locked; raises unless it exists and was not merged away."""
    rows = await repo.lock_customers([customer_id])
    if customer_id not in rows:
        await _missing(repo, customer_id)
    row = rows[customer_id]
    if row["merged_into"]:
        raise Conflict(_merged(row))
    return row


async def _remove(
    repo: CustomerRepository, customer_id: str, concerned: list[str], *, erase: bool
) -> dict[str, Any]:
    """Remove the customer with the tombstones merged into it; the audit names them all."""
    await _writable(repo, customer_id)
    report = await repo.remove_customer(customer_id, erase=erase)
    concerned.extend(report["customer_ids"])
    return report


async def _write(repo: CustomerRepository, row: dict[str, Any], record: CustomerRecord) -> None:
    try:
        await repo.upsert_customers([row])
        if record.identities is not None:
            await repo.replace_identities({row["customer_id"]: record.identities})
    except KeyTaken:
        raise Conflict(LOST_RACE) from None
