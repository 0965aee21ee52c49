"""The demo customer set: deterministic from a seed, with canonical identities.

Phones are E.164 ("+79161234567"), emails lower case; the traffic generator
re-spells them the way channels do. A few identities are deliberately shared
by two customers (a family phone, an office mailbox) so that lookups can be
ambiguous.
"""

import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

DEFAULT_CUSTOMER_SEED = 1
DEFAULT_CUSTOMER_COUNT = 200
MIN_CUSTOMER_COUNT = 20

IdentityKind = Literal["phone", "email"]
SHARED: tuple[IdentityKind, ...] = ("phone", "phone", "phone", "email")
"""Identities given to a second customer: three family phones and an office mailbox."""
EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example.com")


@dataclass(frozen=True)
class Country:
    """What a customer's country decides: how common it is, languages, regions, names."""

    code: str
    weight: float
    languages: tuple[tuple[str, float], ...]
    regions: tuple[tuple[str, str], ...]  # (region, IANA time zone)
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]


COUNTRIES = (
    Country(
        "GB",
        0.35,
        (("en", 1.0),),
        (("UK", "Europe/London"),),
        ("Oliver", "Amelia", "Harry", "Isla", "George", "Ava", "Jack", "Emily", "Charlie"),
        ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Roberts", "Hughes"),
    ),
    Country(
        "US",
        0.33,
        (("en", 0.8), ("es", 0.2)),
        (
            ("US-East", "America/New_York"),
            ("US-Central", "America/Chicago"),
            ("US-West", "America/Los_Angeles"),
        ),
        ("James", "Mary", "Michael", "Jennifer", "David", "Sarah", "Daniel", "Maria", "Jose"),
        ("Johnson", "Miller", "Davis", "Garcia", "Rodriguez", "Martinez", "Lee", "Clark", "Lopez"),
    ),
    Country(
        "DE",
        0.16,
        (("de", 0.85), ("en", 0.15)),
        (("DE", "Europe/Berlin"),),
        ("Lukas", "Anna", "Leon", "Mia", "Felix", "Lena", "Jonas", "Laura", "Paul"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker"),
    ),
    Country(
        "RU",
        0.16,
        (("ru", 0.85), ("en", 0.15)),
        (("RU", "Europe/Moscow"), ("RU-Siberia", "Asia/Novosibirsk")),
        ("Ivan", "Olga", "Dmitry", "Anna", "Sergey", "Elena", "Alexey", "Maria", "Nikolai"),
        ("Petrov", "Ivanov", "Smirnov", "Kuznetsov", "Popov", "Sokolov", "Volkov", "Morozov"),
    ),
)
COUNTRY_BY_CODE = {country.code: country for country in COUNTRIES}

TIERS = (("standard", 0.75), ("premium", 0.2), ("vip", 0.05))
SEGMENTS = (("consumer", 0.7), ("smb", 0.2), ("enterprise", 0.1))
_VALUE_SCALE = {"standard": 300.0, "premium": 2500.0, "vip": 15000.0}
_RU_FEMALE = frozenset({"Olga", "Anna", "Elena", "Maria"})
_TRANSLIT = str.maketrans({"ü": "ue", "ö": "oe", "ä": "ae", "ß": "ss"})


@dataclass(frozen=True)
class Identity:
    """A canonical way to reach a customer."""

    kind: IdentityKind
    value: str


@dataclass(frozen=True)
class Customer:
    """One demo customer; `to_json` is the line written by `customers --out`."""

    customer_id: str
    external_ref: str
    display_name: str
    country: str
    tier: str
    segment: str
    language: str
    region: str
    timezone: str
    lifetime_value: float
    identities: tuple[Identity, ...]

    def values(self, kind: IdentityKind) -> list[str]:
        """The customer's canonical phone numbers or email addresses."""
        return [i.value for i in self.identities if i.kind == kind]

    def to_json(self) -> dict[str, Any]:
        """The customer as a JSON object, identities as [{"kind", "value"}]."""
        return asdict(self)


def pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    """One value of (value, weight) pairs."""
    return rng.choices([value for value, _ in weighted], [weight for _, weight in weighted])[0]


def random_phone(rng: random.Random, country: str) -> str:
    """A plausible E.164 number of the country (mobile mostly, some landlines)."""

    def digits(n: int) -> str:
        return "".join(rng.choice("0123456789") for _ in range(n))

    if country == "RU":
        return "+79" + rng.choice(("16", "03", "26", "85", "99", "52")) + digits(7)
    if country == "GB":
        if rng.random() < 0.25:
            return "+4420" + rng.choice("378") + digits(7)
        return "+447" + rng.choice(("400", "412", "523", "766", "812", "939", "968")) + digits(6)
    if country == "US":
        area = rng.choice(("202", "212", "312", "415", "617", "646", "713", "305"))
        return "+1" + area + rng.choice("23456789") + digits(6)
    if rng.random() < 0.2:
        return "+4930" + rng.choice("2345689") + digits(7)
    return "+49" + rng.choice(("151", "160", "170", "171", "176")) + digits(8)


def demo_customers(
    seed: int = DEFAULT_CUSTOMER_SEED, count: int = DEFAULT_CUSTOMER_COUNT
) -> list[Customer]:
    """`count` customers, the same for the same seed, with a few shared identities."""
    if count < MIN_CUSTOMER_COUNT:
        raise ValueError(f"count must be at least {MIN_CUSTOMER_COUNT}, got {count}")
    rng = random.Random(seed)
    taken: set[str] = set()
    customers = [_customer(rng, n, taken) for n in range(1, count + 1)]
    return _share_identities(rng, customers)


def _customer(rng: random.Random, n: int, taken: set[str]) -> Customer:
    country = rng.choices(COUNTRIES, [c.weight for c in COUNTRIES])[0]
    first, last = rng.choice(country.first_names), rng.choice(country.last_names)
    if country.code == "RU" and first in _RU_FEMALE:
        last += "a"
    region, timezone = rng.choice(country.regions)
    tier = pick(rng, TIERS)
    phones = 0 if rng.random() < 0.1 else 2 if rng.random() < 0.15 else 1
    emails = 1 if phones == 0 or rng.random() < 0.85 else 0
    identities = [
        *(
            Identity("phone", _unique(taken, lambda: random_phone(rng, country.code)))
            for _ in range(phones)
        ),
        *(
            Identity("email", _unique(taken, lambda: _email(rng, first, last)))
            for _ in range(emails)
        ),
    ]
    return Customer(
        customer_id=f"cust-{n:06d}",
        external_ref=f"crm-{rng.getrandbits(40):010x}",
        display_name=f"{first} {last}",
        country=country.code,
        tier=tier,
        segment=pick(rng, SEGMENTS),
        language=pick(rng, country.languages),
        region=region,
        timezone=timezone,
        lifetime_value=round(rng.lognormvariate(0, 0.8) * _VALUE_SCALE[tier], 2),
        identities=tuple(identities),
    )


def _email(rng: random.Random, first: str, last: str) -> str:
    first, last = first.lower().translate(_TRANSLIT), last.lower().translate(_TRANSLIT)
    local = rng.choice(
        (f"{first}.{last}", f"{first[0]}{last}", f"{first}{last}{rng.randint(1, 99)}")
    )
    return f"{local}@{rng.choice(EMAIL_DOMAINS)}"


def _unique(taken: set[str], make: Callable[[], str]) -> str:
    while (value := make()) in taken:
        pass
    taken.add(value)
    return value


def _share_identities(rng: random.Random, customers: list[Customer]) -> list[Customer]:
    """Give a few customers the phone (or email) of another customer of their country."""
    result = list(customers)
    order = rng.sample(range(len(result)), len(result))
    used: set[int] = set()
    for kind in SHARED:
        owner = next(i for i in order if i not in used and result[i].values(kind))
        sharer = next(
            i
            for i in order
            if i not in used | {owner} and result[i].country == result[owner].country
        )
        used |= {owner, sharer}
        keep = tuple(x for x in result[sharer].identities if x.kind != kind)
        shared = Identity(kind, result[owner].values(kind)[0])
        result[sharer] = replace(result[sharer], identities=(*keep, shared))
    return result
