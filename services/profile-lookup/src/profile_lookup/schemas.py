"""The admin API's request and response bodies (what OpenAPI at /docs shows).

The customer body (`CustomerIn`) is the import's record format as well, so it lives with
the record rules in `domain/customers.py`; it is re-exported here with the others.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from profile_lookup.domain.customers import CustomerIn

__all__ = [
    "Contact",
    "Customer",
    "CustomerIn",
    "CustomerRow",
    "Erasure",
    "Identity",
    "IdentityAdded",
    "IdentityBody",
    "ImportResult",
    "Lookup",
    "Merge",
    "MergeBody",
    "RecentContacts",
    "Rejection",
    "Removal",
]

Kind = Literal["phone", "email"]


class IdentityBody(BaseModel):
    kind: Kind
    value: str = Field(min_length=1, max_length=512, description="As spelled; normalised here.")
    country: str | None = Field(
        default=None, description="Region for a nationally written phone (default: the service's)."
    )


class MergeBody(BaseModel):
    source_customer_id: str = Field(
        min_length=1, max_length=128, pattern=r"^[!-~]+$", description="Merged away."
    )


class Identity(BaseModel):
    kind: Kind
    value: str = Field(description="Normalised: E.164 for a phone, IDNA domain for an email.")


class CustomerRow(BaseModel):
    """A customer as stored; `merged_into` names the survivor of a customer merged away."""

    customer_id: str
    external_ref: str | None
    tier: str
    segment: str | None
    display_name: str | None
    language: str | None
    region: str | None
    timezone: str | None
    lifetime_value: float | None
    contract_id: str | None = Field(description="The customer's SLA contract, if any.")
    country: str | None
    merged_into: str | None
    created_at: datetime
    updated_at: datetime


class Customer(CustomerRow):
    identities: list[Identity]


class Lookup(BaseModel):
    kind: Kind
    normalised: str
    status: Literal["known", "unknown", "ambiguous"]
    customer_ids: list[str] = Field(description="One page of the customers, in id order.")
    customers: list[CustomerRow] = Field(
        description="Their profiles, with `customers:read`; empty with `customers:identify` only."
    )
    next_cursor: str | None = Field(None, description="The next page's `cursor`; null: last.")


class IdentityAdded(BaseModel):
    customer_id: str
    kind: Kind
    value: str


class Merge(BaseModel):
    merge_id: int
    source_customer_id: str
    target_customer_id: str
    identities_moved: int
    contacts_moved: int
    merged_at: datetime


class Removal(BaseModel):
    customer_id: str
    customers_removed: int = Field(description="The customer and those merged into it.")
    identities_deleted: int
    contacts_unlinked: int


class Erasure(Removal):
    erasure_id: int
    erased_at: datetime


class Contact(BaseModel):
    contact_id: str
    inbound_event_id: str | None
    channel: str | None
    contact_type: str | None
    occurred_at: datetime | None
    identification: str | None
    status: str
    closed_at: datetime | None
    csat: int | None


class RecentContacts(BaseModel):
    customer_id: str
    contacts: list[Contact] = Field(description="One page, newest first.")
    next_cursor: str | None = Field(None, description="The next page's `cursor`; null: last.")


class Rejection(BaseModel):
    line: int
    reason: str


class ImportResult(BaseModel):
    """What an import did (or, checked only, would do); `rejections` lists the first 1000."""

    lines: int
    imported: int
    updated: int
    rejected: int
    rejections: list[Rejection]
    rejections_truncated: bool
    seconds: float
