"""What of the customer a queue's agents may see: masking and pseudonymous ids.

Raw phone numbers and email addresses never leave the router: every view carries
masks (last four digits; first letter of the mailbox and the domain). A minimised
view also drops the display name and replaces the customer id with an HMAC of it
under a secret key, stable for one key so a vendor can still group one customer's
contacts, and useless for finding the customer without the key.

Every decision of a known customer, for any queue, also carries a `customer_key`: an
HMAC of the id under a second key derived from the same secret, so it is one value for
the customer in-house and outsourced (sla-monitor counts repeat contacts across both),
and it is neither the id nor the pseudonym a vendor sees.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from functools import lru_cache

MAX_MASK_CHARS = 128
_EXTENSION = re.compile(r"(;ext=|\bext\.?|\bx)\s*\d+\s*$", re.IGNORECASE)
_ANGLE = re.compile(r"<([^<>]+)>")
_NOT_A_DIGIT = re.compile(r"\D")


def mask_phone(raw: str) -> str:
    """'+44 7700 900958' -> '+********0958'; too short to keep anything -> '****'."""
    number = _EXTENSION.sub("", raw)
    digits = _NOT_A_DIGIT.sub("", number)
    if len(digits) < 7:
        return "****"
    plus = "+" if number.strip().removeprefix("tel:").startswith("+") else ""
    return plus + "*" * (len(digits) - 4) + digits[-4:]


def mask_email(raw: str) -> str:
    """'Ivan Petrov <IVAN.Petrov@Example.com>' -> 'i***@example.com'."""
    found = _ANGLE.search(raw)
    address = (found.group(1) if found else raw).strip().lower()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        return "***"
    return f"{local[0]}***@{domain}"[:MAX_MASK_CHARS]


def pseudonym(customer_id: str, key: bytes) -> str:
    """A stable pseudonymous id for `customer_id` under `key` (HMAC-SHA256)."""
    digest = hmac.new(key, customer_id.encode(), hashlib.sha256).hexdigest()
    return f"anon-{digest[:32]}"


_CUSTOMER_KEY_PURPOSE = b"switchboard/router customer-key v1"


@lru_cache(maxsize=8)
def _customer_key_secret(key: bytes) -> bytes:
    """The key of `customer_key`, derived from the pseudonym key for that one purpose."""
    return hmac.new(key, _CUSTOMER_KEY_PURPOSE, hashlib.sha256).digest()


def customer_key(customer_id: str, key: bytes) -> str:
    """The customer's key in decisions for every queue (HMAC-SHA256 under a derived key)."""
    digest = hmac.new(_customer_key_secret(key), customer_id.encode(), hashlib.sha256)
    return f"ck-{digest.hexdigest()[:32]}"
