"""The normalisation table: many spellings per number and address, several countries."""

from __future__ import annotations

import pytest

from profile_lookup.domain.normalise import (
    Invalid,
    Normaliser,
    Withheld,
    is_withheld,
    normalise_email,
    normalise_phone,
    region_of,
)

PHONES = {
    # Russia: trunk prefix 8, brackets, dashes, 00 and 810 international prefixes.
    ("RU", "+79161234567"): [
        "8 (916) 123-45-67",
        "8-916-123-45-67",
        "89161234567",
        "8 916 123 45 67",
        "(916) 123-4567",
        "+7 916 123-45-67",
        "+7 (916) 123-45-67",
        "+7.916.123.45.67",
        "007 916 123 45 67",
        "810 7 916 123 45 67",
        "tel:+7-916-123-45-67",
        "tel:+7-916-123-45-67;ext=12",
        "8 (916) 123-45-67 доб. 123",
        "+7\u00a0916\u00a0123\u00a045\u00a067",
        "  +7 916 1234567  ",
        "+7 916 123\u201145\u201367",
    ],
    # UK: trunk prefix 0, (0) after the country code, drama range numbers, extensions.
    ("GB", "+447700900123"): [
        "07700 900123",
        "07700900123",
        "(07700) 900123",
        "07700-900123",
        "+44 7700 900123",
        "+44 (0)7700 900123",
        "0044 7700 900123",
        "tel:+44-7700-900123",
        "07700 900123 ext. 45",
        "07700 900123 x45",
        "07700 900123 #45",
    ],
    ("GB", "+442079460958"): [
        "020 7946 0958",
        "(020) 7946 0958",
        "020.7946.0958",
        "+44 20 7946 0958",
    ],
    # US: trunk 1, dots, tel: URI with extension.
    ("US", "+12025550143"): [
        "(202) 555-0143",
        "202-555-0143",
        "202.555.0143",
        "1-202-555-0143",
        "2025550143",
        "+1 202 555 0143",
        "tel:+1-202-555-0143;ext=12",
        "011 1 202 555 0143",
    ],
    # Germany: slash notation, 0049.
    ("DE", "+49301234567"): [
        "030 1234567",
        "030/1234567",
        "(030) 1234567",
        "0049 30 1234567",
        "+49 (0)30 1234567",
    ],
}


@pytest.mark.parametrize(
    ("region", "spelling", "e164"),
    [
        (region, spelling, e164)
        for (region, e164), spellings in PHONES.items()
        for spelling in spellings
    ],
)
def test_every_spelling_of_a_number_normalises_to_e164(
    region: str, spelling: str, e164: str
) -> None:
    assert normalise_phone(spelling, region) == e164


@pytest.mark.parametrize("region", ["GB", "RU", "US", "DE"])
def test_international_spellings_do_not_depend_on_the_region(region: str) -> None:
    for spelling in ("+7 916 123-45-67", "0044 7700 900123", "tel:+1-202-555-0143"):
        assert isinstance(normalise_phone(spelling, region), str)
    assert normalise_phone("0044 7700 900123", region) == "+447700900123"


def test_a_national_spelling_reads_in_the_region_given() -> None:
    assert normalise_phone("8 916 123 45 67", "RU") == "+79161234567"
    assert normalise_phone("020 7946 0958", "GB") == "+442079460958"
    assert normalise_phone("020 7946 0958", "DE") != "+442079460958"


@pytest.mark.parametrize(
    ("spelling", "reason"),
    [
        ("12ab", "not a phone number"),
        ("+", "not a phone number"),
        ("n/a", "not a phone number"),
        ("0", "not a phone number"),
        ("000", "not a phone number"),
        ("+7 (9", "not a phone number"),
        ("+999 1234 5678", "unknown country code"),
        ("07700 9001", "a trunk prefix where the area code should be"),
        ("+1 202 555 01", "too few digits for its country"),
        ("+44 7700 900123 999 999", "too many digits for its country"),
        ("555 0143", "a local number without its area code"),
    ],
)
def test_unparseable_numbers_say_why_without_repeating_the_input(
    spelling: str, reason: str
) -> None:
    region = "US" if spelling == "555 0143" else "GB"
    result = normalise_phone(spelling, region)
    assert result == Invalid(reason)


@pytest.mark.parametrize(
    "spelling",
    [
        "anonymous",
        "Anonymous",
        "WITHHELD",
        "private",
        "restricted",
        "unknown",
        " Unavailable ",
        "sip:anonymous@anonymous.invalid",
    ],
)
def test_withheld_placeholders(spelling: str) -> None:
    assert is_withheld(spelling)
    assert normalise_phone(spelling, "GB") == Withheld()


EMAILS = {
    "ivan.petrov@example.com": [
        "ivan.petrov@example.com",
        "IVAN.PETROV@EXAMPLE.COM",
        "Ivan.Petrov@Example.com",
        "  ivan.petrov@example.com  ",
        "\u00a0ivan.petrov@example.com\u00a0",
        "Ivan Petrov <IVAN.Petrov@Example.com>",
        '"Petrov, Ivan" <ivan.petrov@example.com>',
        "<ivan.petrov@example.com>",
        "mailto:Ivan.Petrov@example.com",
        "ivan.petrov@example.com (Ivan Petrov)",
        "ivan.petrov@example.com.",
    ],
    # Internationalised domains: Unicode and punycode spellings are the same address.
    "ivan@xn--e1afmkfd.xn--p1ai": [
        "ivan@пример.рф",
        "IVAN@ПРИМЕР.РФ",
        "Иван <ivan@Пример.Рф>",
        "ivan@xn--e1afmkfd.xn--p1ai",
        "IVAN@XN--E1AFMKFD.XN--P1AI",
    ],
    "anna@xn--mnchen-3ya.de": ["anna@münchen.de", "Anna@MÜNCHEN.de", "anna@xn--mnchen-3ya.de"],
    "jose+support@example.es": ["José <Jose+Support@Example.ES>"],
}


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [(spelling, canonical) for canonical, spellings in EMAILS.items() for spelling in spellings],
)
def test_every_spelling_of_an_address_normalises_the_same(spelling: str, canonical: str) -> None:
    assert normalise_email(spelling) == canonical


@pytest.mark.parametrize(
    ("spelling", "reason"),
    [
        ("not-an-email", "no @ in the address"),
        ("a@b@example.com", "not an email address"),
        ("@example.com", "nothing before the @"),
        ("ivan@localhost", "the domain has no dot"),
        ("a b@example.com", "the part before the @ is too long or contains spaces"),
        ("ivan@example..com", "the domain is not a valid (internationalised) domain name"),
        ("ivan@-bad-.com", "the domain is not a valid (internationalised) domain name"),
        ("x" * 65 + "@example.com", "the part before the @ is too long or contains spaces"),
    ],
)
def test_unparseable_addresses_say_why(spelling: str, reason: str) -> None:
    assert normalise_email(spelling) == Invalid(reason)


def test_the_region_of_an_international_dialled_number() -> None:
    assert region_of("+7 800 555-35-35") == "RU"
    assert region_of("+44 20 7946 0000") == "GB"
    assert region_of("8 800 555-35-35") is None
    assert region_of(None) is None


def test_the_cache_answers_like_the_functions_and_counts_hits() -> None:
    cache = Normaliser(cache_size=2)
    assert cache.phone("8 916 123 45 67", "RU") == "+79161234567"
    assert cache.phone("8 916 123 45 67", "RU") == "+79161234567"
    assert cache.phone("8 916 123 45 67", "GB") != "+79161234567", "the region is part of the key"
    assert cache.email("A@Example.com") == "a@example.com"
    hits, misses = cache.cache_counts()
    assert (hits, misses) == (1, 3)
