"""A customer record as the admin API and the bulk import accept it, validated and normalised.

One JSON object per customer (the format of `python -m switchboard_demo customers`):

    {"customer_id": "cust-000042", "external_ref": "crm-00ab12cd34", "tier": "vip",
     "segment": "consumer", "display_name": "Ivan Petrov", "country": "RU",
     "language": "ru", "region": "RU", "timezone": "Europe/Moscow",
     "lifetime_value": 18250.0, "contract_id": "gold-2026",
     "identities": [{"kind": "phone", "value": "+79161234567"},
                    {"kind": "email", "value": "ivan.petrov@example.com"}]}

`phones` and `emails` (lists of spellings) are accepted instead of, or besides,
`identities`. Each phone is read in the record's `country` when it is written
nationally, else in the default region. `contract_id` names the customer's SLA contract,
as sla-monitor's policy defines it (its targets override the tier's). Unknown fields are
ignored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from profile_lookup.domain.normalise import EMAIL, PHONE, Invalid, Withheld, known_region
from profile_lookup.domain.normalise import normalise_email as _email
from profile_lookup.domain.normalise import normalise_phone as _phone
from switchboard_events.ids import derive_id
from switchboard_events.primitives import (
    ContractId,
    Identifier,
    Label,
    LanguageTag,
    Money,
    RawEmail,
    RawPhone,
    Slug,
    Text,
    TimeZoneName,
)

MAX_IDENTITIES = 50
PROFILE_FIELDS = (
    "external_ref",
    "tier",
    "segment",
    "display_name",
    "language",
    "region",
    "timezone",
    "country",
    "lifetime_value",
    "contract_id",
)


class IdentityIn(BaseModel):
    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)

    kind: Literal["phone", "email"]
    value: str = Field(min_length=1, max_length=512)


class CustomerIn(BaseModel):
    """A customer as given; absent fields are left as they are on update."""

    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True, str_strip_whitespace=True)

    customer_id: Identifier | None = None
    external_ref: Identifier | None = None
    tier: Slug | None = None
    segment: Slug | None = None
    display_name: Text | None = None
    language: LanguageTag | None = None
    region: Label | None = None
    timezone: TimeZoneName | None = None
    country: str | None = Field(default=None, description="ISO 3166 code: reads national phones.")
    lifetime_value: Money | None = None
    contract_id: ContractId | None = None
    phones: list[RawPhone] | None = Field(default=None, max_length=MAX_IDENTITIES)
    emails: list[RawEmail] | None = Field(default=None, max_length=MAX_IDENTITIES)
    identities: list[IdentityIn] | None = Field(default=None, max_length=MAX_IDENTITIES)

    @field_validator("country")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is None:
            return None
        region = known_region(value)
        if region is None:
            raise ValueError("expected an ISO 3166 country code such as GB, RU, US, DE")
        return region


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    """A validated customer: the profile fields that were given, and its identities."""

    customer_id: str | None
    fields: Mapping[str, Any]
    """Profile fields present in the input (None clears one)."""
    identities: tuple[tuple[str, str], ...] | None
    """(kind, normalised value) pairs; None when the input named no identities at all."""

    @property
    def external_ref(self) -> str | None:
        ref = self.fields.get("external_ref")
        return ref if isinstance(ref, str) else None

    def new_id(self) -> str:
        """The id of a new customer given without one: derived from its CRM id if any."""
        if self.customer_id is not None:
            return self.customer_id
        if self.external_ref is not None:
            return "cust-" + derive_id("customer", self.external_ref)
        raise ValueError("a customer needs a customer_id or an external_ref")


class RecordError(ValueError):
    """A customer record that cannot be accepted; the message names the field."""


def validate_record(
    data: object, *, default_region: str, tiers: Sequence[str], need_key: bool = True
) -> CustomerRecord:
    """Validate and normalise one customer record, or raise `RecordError` saying why."""
    if not isinstance(data, Mapping):
        raise RecordError("expected a JSON object")
    try:
        model = CustomerIn.model_validate(data)
    except ValidationError as exc:
        raise RecordError(describe(exc)) from None
    if need_key and model.customer_id is None and model.external_ref is None:
        raise RecordError("needs customer_id or external_ref")
    if model.tier is not None and model.tier not in tiers:
        raise RecordError(f"tier: expected one of {', '.join(tiers)}")
    given = model.model_fields_set
    fields = {name: getattr(model, name) for name in PROFILE_FIELDS if name in given}
    identities = normalise_identities(model, model.country or default_region)
    return CustomerRecord(model.customer_id, fields, identities)


def normalise_identities(model: CustomerIn, region: str) -> tuple[tuple[str, str], ...] | None:
    if model.phones is None and model.emails is None and model.identities is None:
        return None
    spelled: list[tuple[str, str, str]] = []
    spelled += [(PHONE, raw, f"phones[{i}]") for i, raw in enumerate(model.phones or ())]
    spelled += [(EMAIL, raw, f"emails[{i}]") for i, raw in enumerate(model.emails or ())]
    spelled += [(i.kind, i.value, f"identities[{n}]") for n, i in enumerate(model.identities or ())]
    out: dict[tuple[str, str], None] = {}
    for kind, raw, where in spelled:
        value = _phone(raw, region) if kind == PHONE else _email(raw)
        if isinstance(value, Withheld):
            raise RecordError(f"{where}: not a phone number")
        if isinstance(value, Invalid):
            raise RecordError(f"{where}: {kind} unparseable: {value.reason}")
        out[(kind, value)] = None
    return tuple(out)


def describe(exc: ValidationError) -> str:
    """A short message naming each bad field and what was expected, without the input."""
    parts = []
    for err in exc.errors(include_url=False, include_input=False)[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "record"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
