"""Find known phone numbers and email addresses where they must not be.

A phone leaks when seven or more of its digits appear in a row, however they are
spelled (spaces, dots, dashes, slashes, brackets between them); an email when its
address appears in any case. Masks (`+********0958`, `i***@example.com`) keep four
digits and one letter, so they are not leaks.

Only strings are scanned (JSON is walked, its numbers left out), and timestamps, UUIDs
and hex digests are taken out first: random digits in those would otherwise match
some seven digits of some known number now and then.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

MIN_DIGITS = 7
_DIGIT_RUN = re.compile(r"\d(?:[\s.\-()/]{0,2}\d)+")
_ADDRESS = re.compile(r"[^\s<>\"',;:]+@[^\s<>\"',;]+")
_NOT_NUMBERS = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?"
    r"|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|\b[0-9a-fA-F]{16,}\b"
)


@dataclass(frozen=True)
class KnownPii:
    """The phone digits and email addresses a run sent."""

    phones: frozenset[str]
    emails: frozenset[str]

    @classmethod
    def of(cls, phones: Iterable[str], emails: Iterable[str]) -> KnownPii:
        digits = (re.sub(r"\D", "", p) for p in phones)
        addresses = (found.group(0).lower() for e in emails if (found := _ADDRESS.search(e)))
        return cls(
            frozenset(d for d in digits if len(d) >= MIN_DIGITS),
            frozenset(a.removeprefix("mailto:") for a in addresses),
        )

    def leaks(self, text: str) -> list[str]:
        """What of the known values `text` holds, shortened so the report leaks little."""
        found = []
        for run in _DIGIT_RUN.findall(_NOT_NUMBERS.sub(" ", text)):
            digits = re.sub(r"\D", "", run)
            if len(digits) >= MIN_DIGITS and any(_shares_seven(digits, p) for p in self.phones):
                found.append(f"phone digits ...{digits[-4:]}")
        lowered = text.lower()
        found += [f"email {e[0]}***@{e.partition('@')[2]}" for e in self.emails if e in lowered]
        return found


def _shares_seven(digits: str, phone: str) -> bool:
    """Whether some seven digits in a row of `phone` appear in `digits`."""
    return any(phone[i : i + MIN_DIGITS] in digits for i in range(len(phone) - MIN_DIGITS + 1))


def strings_of(text: str) -> Iterator[str]:
    """The strings of each line: a JSON line's keys and string values, else the line."""
    for line in text.splitlines():
        try:
            yield from _walk(json.loads(line))
        except ValueError:
            yield line


def _walk(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)
