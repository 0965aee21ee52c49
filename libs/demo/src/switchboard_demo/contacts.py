"""One demo contact as a connector would report it: channel, sender as spelled, subject."""

import random
from collections.abc import Sequence
from typing import Any

from switchboard_demo.customers import (
    COUNTRIES,
    EMAIL_DOMAINS,
    Customer,
    pick,
    random_phone,
)
from switchboard_demo.spelling import UNPARSEABLE_PHONES, spell_email, spell_phone
from switchboard_events import Channel, ContactReceivedData, EntryPoint, Sender

CHANNELS = (("call", 0.40), ("chat", 0.25), ("email", 0.25), ("social", 0.10))
CONTACT_TYPES = (
    ("billing", 0.30),
    ("technical", 0.30),
    ("general", 0.20),
    ("sales", 0.10),
    ("complaint", 0.10),
)
# known: a demo customer; unknown: a stranger; odd: withheld or unusable sender.
SENDERS = (("known", 0.70), ("unknown", 0.25), ("odd", 0.05))

DIALLED = {
    "RU": "+7 800 555-35-35",
    "GB": "+44 20 7946 0000",
    "US": "+1 800 555 0199",
    "DE": "+49 800 1234567",
}
MAILBOXES = {
    "en": "support@example.com",
    "de": "hilfe@example.com",
    "ru": "podderzhka@example.com",
    "es": "soporte@example.com",
}
SOCIAL_PAGES = ("x:@SwitchboardHelp", "facebook:SwitchboardSupport", "instagram:switchboard.help")
SUBJECTS: dict[str, dict[str, tuple[str, ...]]] = {
    "billing": {
        "en": ("Charged twice this month", "Question about my invoice"),
        "de": ("Doppelte Abbuchung",),
        "ru": ("Двойное списание за месяц",),
        "es": ("Cobro duplicado",),
    },
    "technical": {
        "en": ("App keeps crashing on login", "Router not connecting"),
        "de": ("Kein Internet seit gestern",),
        "ru": ("Приложение падает при входе",),
        "es": ("La aplicación no funciona",),
    },
    "general": {
        "en": ("Opening hours over the holidays",),
        "de": ("Frage zu meinem Konto",),
        "ru": ("Вопрос по договору",),
        "es": ("Consulta general",),
    },
    "sales": {
        "en": ("Upgrade to the premium plan?",),
        "de": ("Angebot für Geschäftskunden",),
        "ru": ("Хочу подключить тариф",),
        "es": ("Información sobre planes",),
    },
    "complaint": {
        "en": ("Still waiting for a refund", "Very disappointed with the service"),
        "de": ("Beschwerde über den Techniker",),
        "ru": ("Жалоба на обслуживание",),
        "es": ("Queja sobre el servicio",),
    },
}


class Directory:
    """The customer set, indexed for drawing senders."""

    def __init__(self, customers: Sequence[Customer]) -> None:
        """Index `customers` by the identities they have."""
        self.customers = list(customers)
        self.with_phone = [c for c in customers if c.values("phone")]
        self.with_email = [c for c in customers if c.values("email")]
        self.identities = {i.value for c in customers for i in c.identities}

    def customer_for(self, rng: random.Random, channel: Channel) -> Customer:
        """A customer who can reach us on `channel` (a call needs a phone, an email an address)."""
        if channel == Channel.CALL:
            return rng.choice(self.with_phone)
        if channel == Channel.EMAIL:
            return rng.choice(self.with_email)
        return rng.choice(self.customers)

    def stranger_phone(self, rng: random.Random, country: str) -> str:
        """A number that belongs to no demo customer."""
        while (phone := random_phone(rng, country)) in self.identities:
            pass
        return phone

    def stranger_email(self, rng: random.Random, first: str, last: str) -> str:
        """An address that belongs to no demo customer."""
        while True:
            email = f"{first}.{last}{rng.randint(100, 999)}@{rng.choice(EMAIL_DOMAINS)}".lower()
            if email not in self.identities:
                return email


def draw_contact(rng: random.Random, directory: Directory, id_suffix: str) -> ContactReceivedData:
    """A contact ("<channel>-<id_suffix>") from a customer, a stranger or an odd sender."""
    channel = Channel(pick(rng, CHANNELS))
    contact_type = pick(rng, CONTACT_TYPES)
    who = pick(rng, SENDERS)
    customer = directory.customer_for(rng, channel) if who == "known" else None
    if customer is not None:
        country, name, language = customer.country, customer.display_name, customer.language
    else:
        home = rng.choices(COUNTRIES, [c.weight for c in COUNTRIES])[0]
        country = home.code
        name = f"{rng.choice(home.first_names)} {rng.choice(home.last_names)}"
        language = pick(rng, home.languages)
    sender = _sender(rng, channel, who, customer, country, name, directory)
    data: dict[str, Any] = {
        "contact_id": f"{channel.value}-{id_suffix}",
        "channel": channel,
        "sender": sender,
        "entry_point": _entry_point(rng, channel, country, language),
        "contact_type": contact_type,
        "language_hint": language if rng.random() < 0.8 else None,
        "attributes": _attributes(rng, channel, country),
    }
    if channel == Channel.CALL and rng.random() < 0.3:
        data["priority_hint"] = rng.choices((1, 2, 3, 4, 5), (1, 3, 6, 3, 1))[0]
    if channel == Channel.EMAIL or (channel == Channel.CHAT and rng.random() < 0.3):
        data["subject"] = rng.choice(SUBJECTS[contact_type][language])
    return ContactReceivedData.model_validate(data)


def _sender(
    rng: random.Random,
    channel: Channel,
    who: str,
    customer: Customer | None,
    country: str,
    name: str,
    directory: Directory,
) -> Sender:
    first, _, last = name.partition(" ")

    def phone() -> str:
        if who == "odd":
            return rng.choice(UNPARSEABLE_PHONES)
        numbers = customer.values("phone") if customer else []
        return spell_phone(
            rng.choice(numbers) if numbers else directory.stranger_phone(rng, country), rng
        )

    def email() -> str:
        addresses = customer.values("email") if customer else []
        address = rng.choice(addresses) if addresses else directory.stranger_email(rng, first, last)
        return spell_email(address, name, rng)

    if channel == Channel.CALL:
        if who == "odd" and rng.random() < 0.6:
            return Sender(withheld=True)
        caller_name = name.upper() if customer and rng.random() < 0.2 else None
        return Sender(phone=phone(), display_name=caller_name)
    if channel == Channel.EMAIL:
        return Sender(email=email(), display_name=name if rng.random() < 0.5 else None)
    if customer is not None and rng.random() < 0.4:
        # Logged-in chat visitor or a social account linked to the CRM.
        return Sender(external_ref=customer.external_ref, display_name=first)
    handle = (
        f"visitor-{rng.getrandbits(32):08x}"
        if channel == Channel.CHAT
        else f"x:@{first.lower()}_{rng.randint(1, 999)}"
    )
    roll = rng.random()
    if who == "odd" or (roll < 0.35 and (customer is None or customer.values("phone"))):
        return Sender(external_ref=handle, display_name=first, phone=phone())
    if roll < 0.8 and (customer is None or customer.values("email")):
        return Sender(external_ref=handle, display_name=first, email=email())
    return Sender(external_ref=handle, display_name=first)


def _entry_point(rng: random.Random, channel: Channel, country: str, language: str) -> EntryPoint:
    if channel == Channel.CALL:
        return EntryPoint(dialled_number=DIALLED[country])
    if channel == Channel.EMAIL:
        return EntryPoint(mailbox=MAILBOXES[language])
    if channel == Channel.CHAT:
        widget = rng.choice((f"web-{country.lower()}", "app-ios", "app-android"))
        return EntryPoint(widget_id=widget, page=f"https://shop.example.com/{country.lower()}/help")
    return EntryPoint(page=rng.choice(SOCIAL_PAGES))


def _attributes(rng: random.Random, channel: Channel, country: str) -> dict[str, str | int | bool]:
    # The connector knows its own country: profile-lookup needs it to read national numbers.
    if channel == Channel.CALL:
        return {"country": country, "ivr_path": f"{rng.randint(1, 4)}>{rng.randint(1, 3)}"}
    if channel == Channel.CHAT:
        return {"country": country, "page_views": rng.randint(1, 30)}
    if channel == Channel.SOCIAL:
        return {"country": country, "public": rng.random() < 0.5}
    return {"has_attachments": rng.random() < 0.3}
