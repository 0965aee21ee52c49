"""Who sent the contact: the identification rule, as a pure function.

Input: what the sender gave (already normalised) and which customers each of those
identities belongs to. Output: known (one customer), unknown, or ambiguous, with
reasons for people and no personal data.

The rule, in order:

1. An external reference (CRM id) on file identifies the customer directly.
2. Otherwise phone and email are tried in the channel's order: a call trusts the
   number the network presented first, every other channel the email address first
   (an address belongs to one person more often than a phone line does). The first
   identity that belongs to exactly one customer decides.
3. When each given identity is shared (ambiguous), a single customer that all of
   them point at still decides (the shared family phone plus that person's email).
4. Otherwise, any identity shared by several customers makes the contact
   `ambiguous` with the number of distinct candidates; no customer is chosen.
5. Otherwise the contact is `unknown`, with the reason: not on file, unparseable, or
   withheld.

Whenever the phone and the email each point at exactly one customer and they differ,
the result names both in `conflict` (and a reason), whichever won.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from enum import StrEnum

from profile_lookup.domain.normalise import (
    EMAIL,
    PHONE,
    EmailResult,
    Invalid,
    PhoneResult,
    Withheld,
)
from switchboard_events import Channel, IdentificationStatus, MatchedBy

MAX_REASONS = 16


class LookupResult(StrEnum):
    """The metric label of a lookup: like the status, with unparseable input told apart."""

    KNOWN = "known"
    UNKNOWN = "unknown"
    AMBIGUOUS = "ambiguous"
    INVALID_IDENTITY = "invalid_identity"


@dataclass(frozen=True, slots=True)
class SenderKeys:
    """The sender's identities, normalised; None where the event did not give one."""

    external_ref: str | None = None
    phone: PhoneResult | None = None
    email: EmailResult | None = None

    def lookups(self) -> list[tuple[str, str]]:
        """(kind, value) pairs worth looking up: the ones that normalised."""
        pairs = []
        if isinstance(self.phone, str):
            pairs.append((PHONE, self.phone))
        if isinstance(self.email, str):
            pairs.append((EMAIL, self.email))
        return pairs


@dataclass(frozen=True, slots=True)
class Matches:
    """What the identities of one sender matched in the customer records."""

    by_external_ref: str | None = None
    by_identity: Mapping[str, Set[str]] = field(default_factory=dict)
    """kind -> ids of the customers holding that (normalised) identity."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """The identification of one sender."""

    status: IdentificationStatus
    customer_id: str | None = None
    matched_by: MatchedBy | None = None
    candidates: int = 0
    conflict: tuple[str, str] | None = None
    """(phone's customer id, email's customer id) when they differ."""
    reasons: tuple[str, ...] = ()
    result: LookupResult = LookupResult.UNKNOWN


def precedence(channel: Channel) -> tuple[str, str]:
    """Which of phone and email is tried first on `channel` (see the module doc)."""
    return (PHONE, EMAIL) if channel == Channel.CALL else (EMAIL, PHONE)


def identify(channel: Channel, keys: SenderKeys, matches: Matches) -> Verdict:
    """Apply the identification rule to one sender."""
    given = {PHONE: keys.phone, EMAIL: keys.email}
    # What could not be used is said whatever the outcome.
    reasons = [note for note in (_unusable(k, v) for k, v in given.items()) if note]
    found = {kind: set(matches.by_identity.get(kind, ())) for kind in (PHONE, EMAIL)}
    order = [kind for kind in precedence(channel) if isinstance(given[kind], str)]
    unique = {kind: next(iter(found[kind])) for kind in order if len(found[kind]) == 1}
    conflict = None
    if PHONE in unique and EMAIL in unique and unique[PHONE] != unique[EMAIL]:
        conflict = (unique[PHONE], unique[EMAIL])

    if keys.external_ref is not None:
        if matches.by_external_ref is not None:
            customer = matches.by_external_ref
            reasons.append("matched by external_ref")
            reasons += _disagreements(order, found, customer)
            return _known(customer, MatchedBy.EXTERNAL_REF, conflict, reasons)
        reasons.append("external_ref not on file")

    for kind in order:
        if kind in unique:
            customer = unique[kind]
            reasons.append(f"matched by {kind}")
            reasons += _disagreements([k for k in order if k != kind], found, customer)
            return _known(customer, MatchedBy(kind), conflict, reasons)
        if len(found[kind]) > 1:
            reasons.append(f"{kind} matches {len(found[kind])} customers")

    shared = [found[kind] for kind in order if found[kind]]
    if shared:
        common = set.intersection(*shared)
        if len(shared) > 1 and len(common) == 1:
            customer = next(iter(common))
            reasons.append("phone and email together match one customer")
            return _known(customer, MatchedBy(order[0]), None, reasons)
        candidates = set.union(*shared)
        return Verdict(
            IdentificationStatus.AMBIGUOUS,
            candidates=len(candidates),
            reasons=_bounded(reasons),
            result=LookupResult.AMBIGUOUS,
        )

    reasons += [f"{kind} not on file" for kind in order]
    if keys.external_ref is None and given[PHONE] is None and given[EMAIL] is None:
        reasons.append("no phone, email or external_ref to match")
    invalid = any(isinstance(value, Invalid) for value in given.values())
    result = LookupResult.INVALID_IDENTITY if invalid else LookupResult.UNKNOWN
    return Verdict(IdentificationStatus.UNKNOWN, reasons=_bounded(reasons), result=result)


def _unusable(kind: str, value: PhoneResult | EmailResult | None) -> str | None:
    if isinstance(value, Invalid):
        return f"{kind} unparseable: {value.reason}"
    if isinstance(value, Withheld):
        return "caller withheld their number"
    return None


def _known(
    customer: str, matched_by: MatchedBy, conflict: tuple[str, str] | None, reasons: list[str]
) -> Verdict:
    if conflict is not None:
        reasons.append("phone and email belong to different customers")
    return Verdict(
        IdentificationStatus.KNOWN,
        customer_id=customer,
        matched_by=matched_by,
        candidates=1,
        conflict=conflict,
        reasons=_bounded(reasons),
        result=LookupResult.KNOWN,
    )


def _disagreements(kinds: list[str], found: Mapping[str, set[str]], customer: str) -> list[str]:
    """Reasons for the other identities that point elsewhere."""
    out = []
    for kind in kinds:
        if found[kind] and customer not in found[kind]:
            out.append(f"{kind} on file belongs to another customer")
    return out


def _bounded(reasons: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(reasons))[:MAX_REASONS]
