"""Deterministic event ids: outputs are functions of their inputs, so replays repeat them.

A routing decision's id is ``derive_id("routing.decided", inbound_source,
inbound_event_id)`` (see `decision_id`): reprocessing the same inbound event after a
crash yields the same decision id, and every consumer can de-duplicate on it; the
source is part of it because ids are unique per source only. Other
producers derive their ids the same way, from a namespace naming the event
and the parts that identify it, e.g. ``derive_id("sla.alert", contact_id,
target, kind, str(level))``.
"""

import json
import uuid

SWITCHBOARD_NAMESPACE = uuid.UUID("6f1c2a4e-5b0d-4e8a-9c3f-2d7b1e9a0c51")
"""Fixed forever: changing it changes every derived id."""

DECISION_NAMESPACE = "routing.decided"


def derive_id(namespace: str, *parts: str) -> str:
    """A UUIDv5 (as text) over the namespace and the parts; the same inputs give the same id."""
    if not parts:
        raise ValueError(f"derive_id({namespace!r}) needs at least one part to derive from")
    # A JSON array keeps ("a.b", "c") and ("a", "b.c") apart, unlike a joined string.
    name = json.dumps([namespace, *parts], ensure_ascii=False, separators=(",", ":"))
    return str(uuid.uuid5(SWITCHBOARD_NAMESPACE, name))


def decision_id(inbound_event_id: str, inbound_source: str | None = None) -> str:
    """The id of the routing decision made for the contact.received event `inbound_event_id`
    from `inbound_source`.

    Without a source (enriched events produced before they named it) the id is derived
    from the event id alone, as it was then, so decisions made then keep their ids.
    """
    if inbound_source is None:
        return derive_id(DECISION_NAMESPACE, inbound_event_id)
    return derive_id(DECISION_NAMESPACE, inbound_source, inbound_event_id)
