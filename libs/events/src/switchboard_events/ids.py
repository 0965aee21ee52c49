"""Deterministic event ids: outputs are functions of their inputs, so replays repeat them.

A routing decision's id is ``derive_id("routing.decided", inbound_source,
inbound_event_id)`` (see `decision_id`): reprocessing the same inbound event after a
crash yields the same decision id, and every consumer can de-duplicate on it; the
source is part of it because ids are unique per source only. Other
producers derive their ids the same way, from a namespace naming the event
and the parts that identify it, e.g. ``derive_id("sla.alert", contact_id,
target, kind, str(level))``.
"""

import hashlib
import uuid
from json.encoder import encode_basestring

SWITCHBOARD_NAMESPACE = uuid.UUID("6f1c2a4e-5b0d-4e8a-9c3f-2d7b1e9a0c51")
"""Fixed forever: changing it changes every derived id."""
_NAMESPACE_BYTES = SWITCHBOARD_NAMESPACE.bytes

DECISION_NAMESPACE = "routing.decided"


def derive_id(namespace: str, *parts: str) -> str:
    """A UUIDv5 (as text) over the namespace and the parts; the same inputs give the same id."""
    if not parts:
        raise ValueError(f"derive_id({namespace!r}) needs at least one part to derive from")
    # A JSON array keeps ("a.b", "c") and ("a", "b.c") apart, unlike a joined string. It is
    # `json.dumps([namespace, *parts], ensure_ascii=False, separators=(",", ":"))` and the
    # result `str(uuid.uuid5(SWITCHBOARD_NAMESPACE, name))`, without the general encoder and
    # the UUID object, which cost as much per event as routing it (a test holds them equal).
    name = "[" + ",".join(map(encode_basestring, (namespace, *parts))) + "]"
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def decision_id(inbound_event_id: str, inbound_source: str | None = None) -> str:
    """The id of the routing decision made for the contact.received event `inbound_event_id`
    from `inbound_source`.

    Without a source (enriched events produced before they named it) the id is derived
    from the event id alone, as it was then, so decisions made then keep their ids.
    """
    if inbound_source is None:
        return derive_id(DECISION_NAMESPACE, inbound_event_id)
    return derive_id(DECISION_NAMESPACE, inbound_source, inbound_event_id)
