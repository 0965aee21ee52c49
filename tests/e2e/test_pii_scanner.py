"""The scanner the end-to-end PII test relies on: it finds what it must and only that."""

from __future__ import annotations

import json

import pytest
from pii import KnownPii, strings_of

KNOWN = KnownPii.of(["+447700900958", "+1 (212) 555-0142"], ["Ivan.Petrov@Example.com"])


@pytest.mark.parametrize(
    "text",
    [
        "+447700900958",
        "caller 07700 900958 rang",
        "tel:+44-7700-900958;ext=12",
        "+44.7700.900.958",
        "(212) 555-0142",
        "1-212-555-0142",
        "digits 7700900 alone",
        "\u00a0+44\u00a07700\u00a0900958",
    ],
)
def test_a_phone_is_found_however_it_is_spelled(text: str) -> None:
    assert KNOWN.leaks(text), text


@pytest.mark.parametrize(
    "text", ["ivan.petrov@example.com", "IVAN.PETROV@EXAMPLE.COM", "<Ivan.Petrov@example.com>"]
)
def test_an_email_is_found_in_any_case(text: str) -> None:
    assert KNOWN.leaks(text) == ["email i***@example.com"]


@pytest.mark.parametrize(
    "text",
    [
        "+*********0958",
        "i***@example.com",
        "2026-12-02T07:70:09.009581+00:00",
        "contact 5a7e0f11-7700-9009-5812-ab34cd56ef78",
        "sha256 77009009581234567890abcdef77009009",
        "090958 and 7700 90",
        "another number +447700123456",
    ],
)
def test_masks_ids_and_other_numbers_are_not_leaks(text: str) -> None:
    assert not KNOWN.leaks(text), text


def test_the_report_names_no_more_than_four_digits() -> None:
    assert KNOWN.leaks("call from +447700900958") == ["phone digits ...0958"]


def test_json_lines_give_their_strings_and_not_their_numbers() -> None:
    line = json.dumps({"msg": "routed", "wait": 447700900958, "ids": ["a", {"k": "v"}]})
    assert list(strings_of(line + "\nplain text")) == [
        "msg",
        "routed",
        "wait",
        "ids",
        "a",
        "k",
        "v",
        "plain text",
    ]
