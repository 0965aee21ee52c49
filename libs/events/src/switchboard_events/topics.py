"""Topic names, keys, partition counts and dead-letter headers: declared once, here."""

from dataclasses import dataclass

from switchboard_events.audit import AuditRecorded
from switchboard_events.contact import ContactReceived
from switchboard_events.enriched import ContactEnriched
from switchboard_events.envelope import Event
from switchboard_events.lifecycle import ContactLifecycle
from switchboard_events.routing import RoutingDecided
from switchboard_events.sla import SlaAlert

CONTACTS_INBOUND = "contacts.inbound"
CONTACTS_ENRICHED = "contacts.enriched"
CONTACTS_LIFECYCLE = "contacts.lifecycle"
ROUTING_DECISIONS = "routing.decisions"
SLA_ALERTS = "sla.alerts"
AUDIT_EVENTS = "audit.events"

DEFAULT_PARTITIONS = 6
"""Partitions of every topic. routing.decisions, contacts.lifecycle and sla.alerts MUST
share the count: with the same key (contact id) and the same count, one sla-monitor
instance is assigned all of one contact's events."""

CONTENT_TYPE_HEADER = "content-type"
CLOUDEVENTS_MEDIA_TYPE = "application/cloudevents+json"
CONTENT_TYPE = f"{CLOUDEVENTS_MEDIA_TYPE}; charset=UTF-8"
"""Kafka protocol binding of CloudEvents, structured mode: the value is the whole event."""

# Headers of a dead-lettered record (values are UTF-8 strings). The value of the
# record is the original value, byte for byte (cut only past the runtime's dead-letter
# size limit, and then marked so); the key is the original key.
DLQ_ORIGINAL_TOPIC = "dlq.original.topic"
DLQ_ORIGINAL_PARTITION = "dlq.original.partition"
DLQ_ORIGINAL_OFFSET = "dlq.original.offset"
DLQ_ERROR_CLASS = "dlq.error.class"
DLQ_REASON = "dlq.reason"
DLQ_FAILED_AT = "dlq.failed.at"
DLQ_CONSUMER_GROUP = "dlq.consumer.group"
DLQ_ORIGINAL_SIZE = "dlq.original.size"
DLQ_ORIGINAL_SHA256 = "dlq.original.sha256"
DLQ_TRUNCATED = "dlq.truncated"

DLQ_HEADERS: dict[str, str] = {
    DLQ_ORIGINAL_TOPIC: "Topic the record was consumed from.",
    DLQ_ORIGINAL_PARTITION: "Its partition (decimal).",
    DLQ_ORIGINAL_OFFSET: "Its offset (decimal).",
    DLQ_ERROR_CLASS: "Stable error class: not_utf8, not_json, schema_violation, "
    "unknown_event_type, too_large, unprocessable.",
    DLQ_REASON: "What was wrong and what was expected; never contains PII.",
    DLQ_FAILED_AT: "When it was dead-lettered (RFC 3339, UTC).",
    DLQ_CONSUMER_GROUP: "The consumer group that rejected it.",
    DLQ_ORIGINAL_SIZE: "Size of the original value in bytes (decimal).",
    DLQ_ORIGINAL_SHA256: "SHA-256 of the whole original value (hex).",
    DLQ_TRUNCATED: "true if this value is only the first bytes of the original, else false.",
}


def dlq(topic: str) -> str:
    """The dead-letter twin of a topic: `<topic>.dlq`."""
    return f"{topic}.dlq"


@dataclass(frozen=True)
class TopicSpec:
    """One topic: what it carries, how it is keyed, who writes and reads it."""

    name: str
    key: str
    events: tuple[type[Event], ...]
    description: str
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    partitions: int = DEFAULT_PARTITIONS

    @property
    def dlq(self) -> str | None:
        """The dead-letter twin, for topics that a Switchboard service consumes."""
        return dlq(self.name) if self.consumers else None


INBOUND = TopicSpec(
    name=CONTACTS_INBOUND,
    key="contact id (data.contact_id)",
    events=(ContactReceived,),
    description="One event per new contact, from the channel connectors.",
    producers=("channel connectors",),
    consumers=("profile-lookup",),
)
ENRICHED = TopicSpec(
    name=CONTACTS_ENRICHED,
    key="customer id (data.customer.customer_id); contact id when the customer is not known",
    events=(ContactEnriched,),
    description="Each contact with its identified customer and their recent history.",
    producers=("profile-lookup",),
    consumers=("router",),
)
LIFECYCLE = TopicSpec(
    name=CONTACTS_LIFECYCLE,
    key="contact id (data.contact_id)",
    events=(ContactLifecycle,),
    description="What happened to each contact after routing, from the agent desktop.",
    producers=("agent desktop", "ticketing system"),
    consumers=("profile-lookup", "sla-monitor"),
)
DECISIONS = TopicSpec(
    name=ROUTING_DECISIONS,
    key="contact id (data.contact_id)",
    events=(RoutingDecided,),
    description="The queue and priority chosen for each contact, and why.",
    producers=("router",),
    consumers=("sla-monitor",),
)
ALERTS = TopicSpec(
    name=SLA_ALERTS,
    key="contact id (data.contact_id)",
    events=(SlaAlert,),
    description="SLA warnings, breaches and escalations, exactly once each per contact.",
    producers=("sla-monitor",),
    consumers=(),
)

AUDIT = TopicSpec(
    name=AUDIT_EVENTS,
    key="actor (data.actor)",
    events=(AuditRecorded,),
    description="Every read and write of customer data: who, what, when, which customer ids"
    " and the outcome, never the values. At least once: de-duplicate on the id.",
    producers=("profile-lookup",),
    consumers=(),
)

VENDOR_DECISIONS_PREFIX = f"{ROUTING_DECISIONS}.vendor."
VENDOR_DECISIONS = TopicSpec(
    name=VENDOR_DECISIONS_PREFIX + "{vendor}",
    key="contact id (data.contact_id)",
    events=(RoutingDecided,),
    description="One outsourced vendor's decisions only, as minimised for it: one topic per"
    " vendor of the routing policy, the only one its Kafka principal may read.",
    producers=("router",),
    consumers=(),
)
"""A family of topics, not one: ALL_TOPICS leaves it out, the router creates its members."""


def vendor_decisions(vendor: str) -> str:
    """The decisions topic of one vendor: `routing.decisions.vendor.<vendor>`."""
    return VENDOR_DECISIONS_PREFIX + vendor


ALL_TOPICS: tuple[TopicSpec, ...] = (INBOUND, ENRICHED, LIFECYCLE, DECISIONS, ALERTS, AUDIT)
ALL_EVENTS: tuple[type[Event], ...] = tuple(e for spec in ALL_TOPICS for e in spec.events)


def topic_spec(name: str) -> TopicSpec:
    """The spec of a topic by name; KeyError naming the known topics otherwise."""
    for spec in ALL_TOPICS:
        if spec.name == name:
            return spec
    known = ", ".join(spec.name for spec in ALL_TOPICS)
    raise KeyError(f"unknown topic {name!r}; expected one of: {known}")
