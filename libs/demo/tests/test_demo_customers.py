"""The demo customer set and the ways its identities are spelled."""

import random
import re
from collections import Counter

# profile-lookup's parser, in the one workspace environment: reading the spellings back
# with the library profile-lookup uses is the point of the test.
import phonenumbers

from switchboard_demo.customers import demo_customers
from switchboard_demo.spelling import spell_email, spell_phone

E164 = re.compile(r"^\+[1-9]\d{9,13}$")


def test_same_seed_same_customers() -> None:
    assert demo_customers(1) == demo_customers(1)
    assert demo_customers(1) != demo_customers(2)


def test_customer_set_shape() -> None:
    customers = demo_customers()

    assert len(customers) == 200
    assert len({c.customer_id for c in customers}) == 200
    assert len({c.external_ref for c in customers}) == 200
    assert {c.tier for c in customers} == {"standard", "premium", "vip"}
    assert {c.country for c in customers} == {"RU", "GB", "US", "DE"}
    languages = Counter(c.language for c in customers)
    assert languages["en"] > 100
    assert {"de", "ru", "es"} <= set(languages)
    for customer in customers:
        assert 1 <= len(customer.identities) <= 3
        assert all(E164.match(phone) for phone in customer.values("phone"))
        assert all(email == email.lower() and "@" in email for email in customer.values("email"))


def test_some_identities_are_shared() -> None:
    owners = Counter(i for c in demo_customers() for i in set(c.identities))
    shared = [identity for identity, count in owners.items() if count > 1]

    assert {identity.kind for identity in shared} == {"phone", "email"}
    assert len(shared) >= 3


def test_customer_json_line_has_identities() -> None:
    line = demo_customers()[0].to_json()
    assert set(line) >= {"customer_id", "external_ref", "tier", "timezone", "identities"}
    assert set(line["identities"][0]) == {"kind", "value"}


def test_phone_spellings_vary() -> None:
    rng = random.Random(5)
    spellings = {spell_phone("+79161234567", rng) for _ in range(300)}

    assert len(spellings) > 15
    assert "8 (916) 123-45-67" in spellings
    assert any(s.startswith("tel:+7-916-123-45-67") for s in spellings)
    assert any("доб." in s or "ext" in s or ";ext=" in s for s in spellings)
    assert any(s != s.strip() for s in spellings)


def test_email_spellings_vary() -> None:
    rng = random.Random(5)
    spellings = {spell_email("ivan.petrov@example.com", "Ivan Petrov", rng) for _ in range(300)}

    assert "Ivan Petrov <ivan.petrov@example.com>" in spellings
    assert "mailto:ivan.petrov@example.com" in spellings
    assert any(s.strip().isupper() for s in spellings)
    assert all(s.lower().count("ivan.petrov@example.com") == 1 for s in spellings)


def test_every_phone_spelling_reads_back_as_the_customer_number() -> None:
    rng = random.Random(9)
    for customer in demo_customers():
        for phone in customer.values("phone"):
            for _ in range(10):
                spelled = spell_phone(phone, rng).strip().removeprefix("tel:")
                parsed = phonenumbers.parse(spelled, customer.country)
                assert (
                    phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == phone
                ), spelled
