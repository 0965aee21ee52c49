"""Rule conditions compiled once per policy version into plain predicates.

Each `Condition` tests one match field against a contact's `Facts` and says, for people,
what it looked at. What it says is built from the policy's own values and the contact's
categories (channel, type, tier ...), never from the subject or attribute values, so
reasons and explanations carry no personal data.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, Protocol

from router.domain.policy import AttributeScalar, Match
from switchboard_events import Channel, ContactEnriched


def normalise_language(tag: str | None) -> str | None:
    return tag.replace("_", "-").lower() if tag else None


def language_matches(language: str | None, wanted: Iterable[str]) -> bool:
    """'de' covers 'de', 'de-de' and 'de-at'; 'en-gb' only 'en-gb'."""
    if language is None:
        return False
    # Loops, not any()/all() over a generator (a frame each): conditions run per contact.
    for w in wanted:  # noqa: SIM110
        if language == w or language.startswith(w + "-"):
            return True
    return False


class Facts(NamedTuple):
    """What the rules can see of a contact (a tuple: built per contact, and a frozen
    dataclass of ten fields costs a microsecond more)."""

    channel: Channel
    contact_type: str
    tier: str | None
    language: str | None
    region: str | None
    status: str
    repeat: bool
    subject: str | None
    attributes: Mapping[str, AttributeScalar]
    hint: int | None

    @classmethod
    def of(cls, event: ContactEnriched) -> Facts:
        data = event.data
        contact, customer = data.contact, data.customer
        language = contact.language_hint or (customer.language if customer else None)
        return cls(
            channel=contact.channel,
            contact_type=contact.contact_type,
            tier=customer.tier if customer else None,
            language=normalise_language(language),
            region=customer.region if customer else None,
            status=data.identification.status.value,
            repeat=data.history.repeat_contact,
            subject=contact.subject,
            attributes=contact.attributes,
            hint=contact.priority_hint,
        )


class Situation(Protocol):
    """What a condition may ask besides the facts: the base priority and open queues."""

    @property
    def now(self) -> datetime: ...

    def is_open(self, queue_id: str) -> bool: ...


class Scored(NamedTuple):
    """The base priority (before any rule adjustment) that priority conditions see."""

    score: int
    label: str


Test = Callable[[Facts, Situation, Scored], bool]
Say = Callable[[Facts, Situation, Scored], str]


@dataclass(frozen=True, slots=True)
class Condition:
    test: Test
    say: Say


def _listed(values: tuple[str, ...] | frozenset[str]) -> str:
    return ", ".join(sorted(values))


def _same(actual: object, expected: AttributeScalar) -> bool:
    # bool is an int in Python: True must not match 1.
    return type(actual) is type(expected) or (
        isinstance(actual, int | float)
        and isinstance(expected, int | float)
        and not isinstance(actual, bool)
        and not isinstance(expected, bool)
    )


def _attribute(key: str, expected: tuple[AttributeScalar, ...]) -> Condition:
    def test(f: Facts, s: Situation, p: Scored) -> bool:
        value = f.attributes.get(key)
        if value is None:
            return False
        for e in expected:  # noqa: SIM110
            if _same(value, e) and value == e:
                return True
        return False

    def say(f: Facts, s: Situation, p: Scored) -> str:
        shown = " or ".join(repr(e) for e in expected)
        verb = "is" if test(f, s, p) else "is not"
        return f"attribute {key} {verb} {shown}"

    return Condition(test, say)


def _keywords(words: list[str]) -> Condition:
    pattern = re.compile(
        r"\b(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + r")\b",
        re.IGNORECASE,
    )
    by_lower = {w.lower(): w for w in words}

    def test(f: Facts, s: Situation, p: Scored) -> bool:
        return f.subject is not None and pattern.search(f.subject) is not None

    def say(f: Facts, s: Situation, p: Scored) -> str:
        found = pattern.search(f.subject) if f.subject else None
        if found is None:
            return f"subject mentions none of: {', '.join(words)}"
        return f"subject mentions {by_lower.get(found.group(0).lower(), found.group(0))!r}"

    return Condition(test, say)


def _member(
    name: str, get: Callable[[Facts, Scored], str | None], values: frozenset[str], test: Test
) -> Condition:
    """A condition that the contact's `name` (as `get` reads it) is one of `values`; `test`
    is that check with the read and the membership test inline, as it runs per contact."""

    def say(f: Facts, s: Situation, p: Scored) -> str:
        return f"{name} {get(f, p) or 'none'}" + (
            "" if test(f, s, p) else f" not in {_listed(values)}"
        )

    return Condition(test, say)


def compile_match(match: Match) -> tuple[Condition, ...]:
    """The conditions of one rule; a rule matches when all of them hold."""
    conditions: list[Condition] = []
    if match.channel:
        # A Channel is a StrEnum: it hashes and compares as its value.
        channels = frozenset(c.value for c in match.channel)
        conditions.append(
            _member(
                "channel",
                lambda f, p: f.channel.value,
                channels,
                lambda f, s, p: f.channel in channels,
            )
        )
    if match.contact_type:
        types = frozenset(match.contact_type)
        conditions.append(
            _member(
                "contact type",
                lambda f, p: f.contact_type,
                types,
                lambda f, s, p: f.contact_type in types,
            )
        )
    if match.priority:
        low = match.priority.min if match.priority.min is not None else -(10**9)
        high = match.priority.max if match.priority.max is not None else 10**9
        conditions.append(
            Condition(
                lambda f, s, p: low <= p.score <= high,
                lambda f, s, p: (
                    f"priority {p.score}"
                    + ("" if low <= p.score <= high else f" outside {match.priority}")
                ),
            )
        )
    if match.priority_label:
        labels = frozenset(match.priority_label)
        conditions.append(
            _member(
                "priority label", lambda f, p: p.label, labels, lambda f, s, p: p.label in labels
            )
        )
    if match.tier:
        tiers = frozenset(match.tier)
        conditions.append(
            _member("tier", lambda f, p: f.tier, tiers, lambda f, s, p: f.tier in tiers)
        )
    if match.language:
        languages = frozenset(normalise_language(w) or w for w in match.language)
        conditions.append(
            _member(
                "language",
                lambda f, p: f.language,
                languages,
                lambda f, s, p: language_matches(f.language, languages),
            )
        )
    if match.region:
        regions = frozenset(r.lower() for r in match.region)
        conditions.append(
            _member(
                "region",
                lambda f, p: f.region.lower() if f.region else None,
                regions,
                lambda f, s, p: f.region.lower() in regions if f.region else False,
            )
        )
    if match.customer_status:
        statuses = frozenset(match.customer_status)
        conditions.append(
            _member(
                "customer", lambda f, p: f.status, statuses, lambda f, s, p: f.status in statuses
            )
        )
    if match.repeat_contact is not None:
        repeat = match.repeat_contact
        conditions.append(
            Condition(
                lambda f, s, p: f.repeat == repeat,
                lambda f, s, p: "repeat contact" if f.repeat else "not a repeat contact",
            )
        )
    if match.queue_open:
        wanted_open = dict(match.queue_open)

        def all_as_wanted(f: Facts, s: Situation, p: Scored) -> bool:
            for queue_id, wanted in wanted_open.items():  # noqa: SIM110
                if s.is_open(queue_id) != wanted:
                    return False
            return True

        conditions.append(
            Condition(
                all_as_wanted,
                lambda f, s, p: ", ".join(
                    f"queue {q} {'open' if s.is_open(q) else 'closed'}" for q in wanted_open
                ),
            )
        )
    if match.subject_keywords:
        conditions.append(_keywords(match.subject_keywords))
    for key, expected in (match.attributes or {}).items():
        values = tuple(expected) if isinstance(expected, list) else (expected,)
        conditions.append(_attribute(key, values))
    return tuple(conditions)
