"""Phone numbers and email addresses, however a channel spelled them, to one canonical form.

Phones become E.164 (`+79161234567`) with the `phonenumbers` library:

- a number with a country code (`+7 ...`, `00 7 ...`, `tel:+7-...`) is read as is;
- a national spelling (`8 (916) 123-45-67`, `07700 900123`, `(202) 555-0143`) is read
  in the region given (from the event, else the configured default), which also
  strips the national trunk prefix (`8` in Russia, `0` in the UK, `1` in the US);
- spaces, non-breaking spaces, dashes, dots, slashes and brackets are ignored,
  as is a `(0)` after the country code;
- an extension (`ext. 12`, `x12`, `;ext=12`, `#12`, `доб. 12`) is dropped: customers
  are matched on the line, not the extension;
- the number must be valid (`is_valid_number`), or at least have a length the
  country's plan allows and no trunk prefix left where the area code belongs: so
  ranges the metadata does not know yet, and the reserved drama ranges (Ofcom's
  07700 900xxx), still match, while leftovers like `+44 0...` do not.

Emails: trimmed, `mailto:` and a display name removed (`Ivan <ivan@example.com>`),
lower-cased, and the domain converted to its IDNA (punycode) form, so
`ivan@ПРИМЕР.РФ` and `ivan@xn--e1afmkfd.xn--p1ai` are the same address.
Plus-addressing and dots in the local part are kept: providers differ on them.

Reasons (`Invalid.reason`) never repeat the input: they end up in events and logs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import parseaddr
from functools import lru_cache

import idna
import phonenumbers
from phonenumbers import NumberParseException, ValidationResult

PHONE = "phone"
EMAIL = "email"

# What telephony connectors put in the caller field when there is no number to show.
WITHHELD_SPELLINGS = frozenset(
    {
        "anonymous",
        "withheld",
        "private",
        "restricted",
        "unknown",
        "unavailable",
        "blocked",
        "no caller id",
        "sip:anonymous@anonymous.invalid",
        "anonymous@anonymous.invalid",
    }
)

_SPACES = re.compile(r"[\s\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_DASHES = str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"))
_EXTENSION = re.compile(
    r"(?:;\s*ext\s*=|\s*(?:ext\.?|extension|x|#|доб\.?|добавочный)\s*)\s*(\d{1,10})\s*$",
    re.IGNORECASE,
)
_PUNCTUATION = re.compile(r"[\s\-./()\[\]]")
_MAX_EMAIL = 254
_MAX_LOCAL = 64
_MAX_DOMAIN = 253
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_ADDRESS = r"(?P<address>[^\s<>()\[\]\\,;:\"@]+@[^\s<>()\[\]\\,;:\"@]+)"
_BARE = re.compile(rf"^{_ADDRESS}$")
_NAMED = re.compile(rf"^[^<>()\[\]\\,;:\"@]*<{_ADDRESS}>$")

_PARSE_ERRORS = {
    NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
    NumberParseException.NOT_A_NUMBER: "not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too few digits after the international prefix",
    NumberParseException.TOO_SHORT_NSN: "too few digits",
    NumberParseException.TOO_LONG: "too many digits",
}
_LENGTH_ERRORS = {
    ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
    ValidationResult.TOO_SHORT: "too few digits for its country",
    ValidationResult.TOO_LONG: "too many digits for its country",
    ValidationResult.INVALID_LENGTH: "a length its country does not use",
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "a local number without its area code",
}


@dataclass(frozen=True, slots=True)
class Invalid:
    """A spelling that cannot be read as a phone number or address, and why (no PII)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Withheld:
    """The caller withheld their number."""


PhoneResult = str | Invalid | Withheld
EmailResult = str | Invalid


def is_withheld(raw: str) -> bool:
    """True for the placeholders connectors send instead of a withheld number."""
    return _SPACES.sub(" ", raw).strip().lower() in WITHHELD_SPELLINGS


def normalise_phone(raw: str, region: str) -> PhoneResult:
    """E.164 text of `raw`, read in `region` when it has no country code; else why not."""
    if is_withheld(raw):
        return Withheld()
    text = _SPACES.sub(" ", raw.translate(_DASHES)).strip()
    if text[:4].lower() == "tel:":
        # RFC 3966: parameters (;ext=, ;phone-context=, ;isub=) follow the number.
        text = text[4:].split(";", 1)[0].strip()
    text = _EXTENSION.sub("", text).strip()
    compact = _PUNCTUATION.sub("", text)
    if compact.startswith("00"):
        # "00" is the international prefix almost everywhere, but phonenumbers only knows
        # each region's own prefix: in Russia (810) it would read 0044... as national.
        text = "+" + compact[2:]
    if not any(ch.isdigit() for ch in text):
        return Invalid("not a phone number")
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        return Invalid(_PARSE_ERRORS.get(exc.error_type, "not a phone number"))
    # Numbers in ranges the metadata does not know as assigned are accepted when their
    # length fits the plan and no trunk prefix is left where the area code belongs (the
    # full validity check is slow, so it only settles that last case).
    verdict = phonenumbers.is_possible_number_with_reason(number)
    if verdict != ValidationResult.IS_POSSIBLE:
        return Invalid(_LENGTH_ERRORS.get(verdict, "not a possible number"))
    if _starts_with_trunk_prefix(number) and not phonenumbers.is_valid_number(number):
        return Invalid("a trunk prefix where the area code should be")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _starts_with_trunk_prefix(number: phonenumbers.PhoneNumber) -> bool:
    region = phonenumbers.region_code_for_country_code(number.country_code or 0)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region, None)
    prefix = metadata.national_prefix if metadata is not None else None
    nsn: str = phonenumbers.national_significant_number(number)
    return prefix is not None and prefix != "" and nsn.startswith(prefix)


def normalise_email(raw: str) -> EmailResult:
    """The canonical form of `raw` (lower case, IDNA domain); else why not."""
    text = _SPACES.sub(" ", raw).strip()
    if text[:7].lower() == "mailto:":
        text = text[7:].split("?", 1)[0].strip()
    if text.count("@") == 0:
        return Invalid("no @ in the address")
    # The usual spellings are read by a regular expression; parseaddr (slow) reads the rest.
    simple = _BARE.match(text) or _NAMED.match(text)
    address = simple.group("address") if simple else parseaddr(text)[1]
    if not address or address.count("@") != 1:
        return Invalid("not an email address")
    local, _, domain = address.partition("@")
    local = local.strip()
    domain = domain.strip().rstrip(".")
    if not local:
        return Invalid("nothing before the @")
    if len(local) > _MAX_LOCAL or any(ch.isspace() or ord(ch) < 32 for ch in local):
        return Invalid("the part before the @ is too long or contains spaces")
    if "." not in domain:
        return Invalid("the domain has no dot")
    ascii_domain = domain.lower() if domain.isascii() else _idna(domain)
    if ascii_domain is None:
        return Invalid("the domain is not a valid (internationalised) domain name")
    if len(ascii_domain) > _MAX_DOMAIN or not all(_LABEL.match(p) for p in ascii_domain.split(".")):
        return Invalid("the domain is not a valid (internationalised) domain name")
    result = f"{local.lower()}@{ascii_domain}"
    if len(result) > _MAX_EMAIL:
        return Invalid("the address is too long")
    return result


def _idna(domain: str) -> str | None:
    """The ASCII (punycode) form of an internationalised domain name, or None."""
    try:
        return idna.encode(domain, uts46=True).decode("ascii").lower()
    except idna.IDNAError:
        try:
            # IDNA 2003 (Python's codec) still accepts a few names IDNA 2008 refuses.
            return domain.encode("idna").decode("ascii").lower()
        except UnicodeError:
            return None


class Normaliser:
    """`normalise_phone` and `normalise_email` behind bounded memo caches.

    Both functions are pure, so cached answers never go stale: the only rule is the
    size bound (least recently used spellings are forgotten first).
    """

    def __init__(self, cache_size: int) -> None:
        self._phone = lru_cache(maxsize=cache_size)(normalise_phone)
        self._email = lru_cache(maxsize=cache_size)(normalise_email)

    def phone(self, raw: str, region: str) -> PhoneResult:
        return self._phone(raw, region)

    def email(self, raw: str) -> EmailResult:
        return self._email(raw)

    def cache_counts(self) -> tuple[int, int]:
        """(hits, misses) since the start, over both caches."""
        phone, email = self._phone.cache_info(), self._email.cache_info()
        return phone.hits + email.hits, phone.misses + email.misses


@lru_cache(maxsize=4096)
def region_of(e164_or_spelling: str | None) -> str | None:
    """The region of an internationally written number (`+7 800 ...` -> RU), if any."""
    if not e164_or_spelling or "+" not in e164_or_spelling:
        return None
    try:
        number = phonenumbers.parse(e164_or_spelling, None)
    except NumberParseException:
        return None
    region: str | None = phonenumbers.region_code_for_number(number)
    return region if region and region != "ZZ" else None


def known_region(code: object) -> str | None:
    """`code` upper-cased if it is a region phonenumbers knows, else None."""
    if not isinstance(code, str):
        return None
    region = code.strip().upper()
    return region if region in phonenumbers.SUPPORTED_REGIONS else None
