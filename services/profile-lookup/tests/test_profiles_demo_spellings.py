"""The normaliser reads back every way the demo traffic generator spells a number or address."""

from __future__ import annotations

import random

import pytest

from profile_lookup.domain.normalise import normalise_email, normalise_phone
from switchboard_demo.customers import random_phone
from switchboard_demo.spelling import UNPARSEABLE_PHONES, spell_email, spell_phone


@pytest.mark.parametrize("country", ["RU", "GB", "US", "DE"])
def test_every_demo_spelling_of_a_number_reads_back(country: str) -> None:
    rng = random.Random(country)
    for _ in range(400):
        e164 = random_phone(rng, country)
        spelled = spell_phone(e164, rng)
        # The demo's call and chat connectors say their country; other readers use it too.
        assert normalise_phone(spelled, country) == e164, spelled


def test_every_demo_spelling_of_an_address_reads_back() -> None:
    rng = random.Random(5)
    for n in range(400):
        email = f"first.last{n}@{rng.choice(('example.com', 'mail.example.com'))}"
        spelled = spell_email(email, "First Last", rng)
        assert normalise_email(spelled) == email, spelled


@pytest.mark.parametrize("spelled", UNPARSEABLE_PHONES)
def test_the_demo_unparseable_numbers_are_not_numbers(spelled: str) -> None:
    assert not isinstance(normalise_phone(spelled, "GB"), str)
