"""Factories for tests and benchmarks: one valid event of every type, each field overridable.

Every factory returns the event a real producer would send: ids follow the contract's
derivations where it has one (`decision_id`, the SLA alert id), and `subject` repeats the
contact id. Times default to `T0`, a fixed instant, never the wall clock, so a test that
needs "now" says which now (a `ManualClock`'s, usually).

    inbound("c-1", phone="+44 7700 900958")          # contacts.inbound
    enriched("c-1", tier="vip")                      # contacts.enriched
    decided("c-1", queue_id="billing")               # routing.decisions
    lifecycle("c-1", "first_response", T0 + 30s)     # contacts.lifecycle
    alert("c-1", kind="breach")                      # sla.alerts
    audit("41", action="customer.erase")              # audit.events

Never imported by production code.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict, Unpack

from switchboard_events.audit import (
    AuditAction,
    AuditOutcome,
    AuditRecorded,
    AuditRecordedData,
    audit_event_id,
)
from switchboard_events.contact import (
    Channel,
    ContactReceived,
    ContactReceivedData,
    EntryPoint,
    Sender,
)
from switchboard_events.enriched import (
    ContactEnriched,
    ContactEnrichedData,
    CustomerProfile,
    HistorySummary,
    Identification,
    IdentificationStatus,
    IdentityConflict,
    MatchedBy,
)
from switchboard_events.ids import decision_id, derive_id
from switchboard_events.lifecycle import ContactLifecycle, ContactLifecycleData, LifecycleKind
from switchboard_events.routing import (
    CustomerView,
    Overflow,
    QueueKind,
    RoutingDecided,
    RoutingDecidedData,
)
from switchboard_events.sla import AlertKind, SlaAlert, SlaAlertData, SlaTarget

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
"""Monday 3 March 2025, 09:00 UTC (09:00 in London): ManualClock's default start."""

RAW_PHONE = "+44 7700 900958"
RAW_EMAIL = "Ivan Petrov <IVAN.Petrov@Example.com>"
DEFAULT_VENDOR = "acme-bpo"
"""The vendor an outsourced queue gets when a factory is not told one."""

CONNECTOR = "connector/test"
PROFILE_LOOKUP = "switchboard/profile-lookup"
ROUTER = "switchboard/router"
SLA_MONITOR = "switchboard/sla-monitor"
DESKTOP = "desktop/test"


class _Envelope(TypedDict):
    id: str
    source: str
    subject: str
    time: datetime
    producedtime: datetime


def _envelope(
    event_id: str, source: str, subject: str, at: datetime, produced_at: datetime | None = None
) -> _Envelope:
    """The CloudEvents attributes of a factory's event: produced when it happened unless told."""
    return _Envelope(
        id=event_id, source=source, subject=subject, time=at, producedtime=produced_at or at
    )


def inbound_id(contact_id: str) -> str:
    """The id `inbound` gives a contact's event unless told another."""
    return f"in-{contact_id}"


def _vendor(queue_kind: QueueKind, vendor: str | None) -> str | None:
    # The contract wants a vendor exactly for outsourced queues: supply one, drop a stray one.
    if queue_kind is QueueKind.OUTSOURCED:
        return vendor or DEFAULT_VENDOR
    return None


class ContactFields(TypedDict, total=False):
    """What `contact` takes as keywords, and `inbound` and `enriched` pass on to it.

    Absent: the call channel, contact type `general`, no sender identity (an unknown
    sender), not withheld, no entry point, hints, subject or attributes.
    """

    channel: Channel | str
    contact_type: str
    phone: str | None
    email: str | None
    display_name: str | None
    external_ref: str | None
    withheld: bool
    dialled: str | None
    """The number the caller dialled (the entry point)."""
    priority_hint: int | None
    language_hint: str | None
    subject: str | None
    attributes: dict[str, Any] | None


def contact(contact_id: str = "c-1", **fields: Unpack[ContactFields]) -> ContactReceivedData:
    """The payload of a received contact; without phone, email or ref, an unknown sender."""
    dialled = fields.get("dialled")
    return ContactReceivedData(
        contact_id=contact_id,
        channel=Channel(fields.get("channel", Channel.CALL)),
        sender=Sender(
            phone=fields.get("phone"),
            email=fields.get("email"),
            display_name=fields.get("display_name"),
            external_ref=fields.get("external_ref"),
            withheld=fields.get("withheld", False),
        ),
        entry_point=EntryPoint(dialled_number=dialled) if dialled is not None else None,
        contact_type=fields.get("contact_type", "general"),
        priority_hint=fields.get("priority_hint"),
        language_hint=fields.get("language_hint"),
        subject=fields.get("subject"),
        attributes=fields.get("attributes") or {},
    )


def inbound(
    contact_id: str = "c-1",
    *,
    at: datetime = T0,
    produced_at: datetime | None = None,
    event_id: str | None = None,
    source: str = CONNECTOR,
    **fields: Unpack[ContactFields],
) -> ContactReceived:
    """`switchboard.contact.received.v1` as a connector publishes it (id `in-<contact>`);
    the contact's own fields as in `ContactFields`."""
    return ContactReceived(
        **_envelope(event_id or inbound_id(contact_id), source, contact_id, at, produced_at),
        data=contact(contact_id, **fields),
    )


def enriched(
    contact_id: str = "c-1",
    *,
    at: datetime = T0,
    produced_at: datetime | None = None,
    event_id: str | None = None,
    inbound_event_id: str | None = None,
    inbound_source: str | None = None,
    status: IdentificationStatus | str = IdentificationStatus.KNOWN,
    matched_by: MatchedBy | str | None = None,
    conflict: IdentityConflict | None = None,
    customer_id: str = "cust-1",
    tier: str = "standard",
    segment: str | None = None,
    customer_language: str | None = None,
    region: str | None = "UK",
    timezone: str | None = "Europe/London",
    contract_id: str | None = None,
    repeat: bool = False,
    history: HistorySummary | None = None,
    **fields: Unpack[ContactFields],
) -> ContactEnriched:
    """`switchboard.contact.enriched.v1` as profile-lookup publishes it.

    A known customer (matched by phone) unless `status` says otherwise; the customer
    fields apply only to a known one. The contact (`ContactFields`) has the sender
    `RAW_PHONE` and "Ivan Petrov" unless told others, and an email contact `RAW_EMAIL`
    unless `email` is given. `repeat` marks a repeat contact with one contact before
    it; `history` replaces the whole summary. `inbound_source` stays absent, as in
    enriched events from before it existed, unless given (it changes the decision id).
    """
    state = IdentificationStatus(status)
    known = state is IdentificationStatus.KNOWN
    sent = ContactFields(phone=RAW_PHONE, display_name="Ivan Petrov")
    sent.update(fields)
    if Channel(sent.get("channel", Channel.CALL)) is Channel.EMAIL and sent.get("email") is None:
        sent["email"] = RAW_EMAIL
    identification = Identification(
        status=state,
        matched_by=MatchedBy(matched_by or MatchedBy.PHONE) if known else None,
        candidates={IdentificationStatus.KNOWN: 1, IdentificationStatus.UNKNOWN: 0}.get(state, 2),
        conflict=conflict,
    )
    customer = (
        CustomerProfile(
            customer_id=customer_id,
            tier=tier,
            segment=segment,
            display_name=sent.get("display_name"),
            language=customer_language,
            region=region,
            timezone=timezone,
            contract_id=contract_id,
        )
        if known
        else None
    )
    before = 1 if repeat else 0
    return ContactEnriched(
        **_envelope(event_id or f"enr-{contact_id}", PROFILE_LOOKUP, contact_id, at, produced_at),
        data=ContactEnrichedData(
            inbound_event_id=inbound_event_id or inbound_id(contact_id),
            inbound_source=inbound_source,
            contact=contact(contact_id, **sent),
            identification=identification,
            customer=customer,
            history=history
            or HistorySummary(
                contacts_24h=before,
                contacts_7d=before,
                contacts_30d=before,
                repeat_contact=repeat,
            ),
        ),
    )


def decided(
    contact_id: str = "c-1",
    *,
    arrived_at: datetime = T0,
    decided_at: datetime | None = None,
    inbound_event_id: str | None = None,
    inbound_source: str | None = None,
    channel: Channel | str = Channel.CALL,
    contact_type: str = "general",
    queue_id: str = "general",
    queue_kind: QueueKind | str = QueueKind.IN_HOUSE,
    vendor: str | None = None,
    priority: int = 400,
    priority_label: str = "P3",
    rule: str = "default",
    policy_version: str = "test",
    customer_id: str | None = None,
    customer_key: str | None = None,
    customer_status: IdentificationStatus | str = IdentificationStatus.UNKNOWN,
    tier: str | None = None,
    customer: CustomerView | None = None,
    contract_id: str | None = None,
    language: str | None = None,
    overflow: Overflow | None = None,
    reasons: list[str] | None = None,
    cost_per_contact: float | None = None,
) -> RoutingDecided:
    """`switchboard.routing.decided.v1` as the router publishes it.

    The id is the contract's `decision_id(inbound_event_id, inbound_source)`, so a
    second decision for the same contact needs its own `inbound_event_id`. Decided
    the instant it arrived unless `decided_at` says later; an outsourced queue gets
    `DEFAULT_VENDOR` unless told one; `tier` alone gives the customer view
    `CustomerView(tier=...)`. A `customer_id` or `customer_key` makes the customer known.
    """
    decided = decided_at or arrived_at
    ident = decision_id(inbound_event_id or inbound_id(contact_id), inbound_source)
    kind = QueueKind(queue_kind)
    known = customer_id or customer_key
    status = IdentificationStatus.KNOWN if known else IdentificationStatus(customer_status)
    return RoutingDecided(
        **_envelope(ident, ROUTER, contact_id, decided),
        data=RoutingDecidedData(
            decision_id=ident,
            inbound_event_id=inbound_event_id or inbound_id(contact_id),
            contact_id=contact_id,
            customer_id=customer_id,
            customer_key=customer_key,
            customer_status=status,
            queue_id=queue_id,
            queue_kind=kind,
            vendor=_vendor(kind, vendor),
            priority=priority,
            priority_label=priority_label,
            rule=rule,
            reasons=reasons or [],
            overflow=overflow,
            policy_version=policy_version,
            arrived_at=arrived_at,
            decided_at=decided,
            evaluated_at=decided,
            routing_latency_ms=max(0.0, (decided - arrived_at).total_seconds() * 1000),
            channel=Channel(channel),
            contact_type=contact_type,
            cost_per_contact=cost_per_contact,
            language=language,
            customer=customer or (CustomerView(tier=tier) if tier else None),
            contract_id=contract_id,
        ),
    )


def lifecycle(
    contact_id: str = "c-1",
    kind: LifecycleKind | str = LifecycleKind.ASSIGNED,
    at: datetime = T0,
    *,
    produced_at: datetime | None = None,
    event_id: str | None = None,
    n: int = 0,
    source: str = DESKTOP,
    agent_id: str | None = None,
    queue_id: str | None = None,
    csat_score: int | None = None,
    to_queue_id: str | None = None,
    reason: str | None = None,
) -> ContactLifecycle:
    """`switchboard.contact.lifecycle.v1` as the agent desktop publishes it.

    The id is derived from the contact, kind and time; `n` tells apart two steps of
    the same kind at the same instant. `csat_recorded` gets a score of 4 and
    `transferred` the queue `general` unless told others.
    """
    step = LifecycleKind(kind)
    if step is LifecycleKind.CSAT_RECORDED and csat_score is None:
        csat_score = 4
    if step is LifecycleKind.TRANSFERRED and to_queue_id is None:
        to_queue_id = "general"
    return ContactLifecycle(
        **_envelope(
            event_id or derive_id("testing.lifecycle", contact_id, step, at.isoformat(), str(n)),
            source,
            contact_id,
            at,
            produced_at,
        ),
        data=ContactLifecycleData(
            contact_id=contact_id,
            kind=step,
            agent_id=agent_id,
            queue_id=queue_id,
            csat_score=csat_score,
            to_queue_id=to_queue_id,
            reason=reason,
        ),
    )


def alert(
    contact_id: str = "c-1",
    *,
    target: SlaTarget | str = SlaTarget.FIRST_RESPONSE,
    kind: AlertKind | str = AlertKind.WARNING,
    level: int = 1,
    cycle: int = 1,
    arrived_at: datetime = T0,
    target_seconds: int = 60,
    fired_at: datetime | None = None,
    elapsed_business_seconds: float | None = None,
    queue_id: str = "general",
    queue_kind: QueueKind | str = QueueKind.IN_HOUSE,
    vendor: str | None = None,
    priority: int = 400,
    priority_label: str = "P3",
    channel: Channel | str = Channel.CALL,
    policy_rule: str = "default",
) -> SlaAlert:
    """`switchboard.sla.alert.v1` as sla-monitor publishes it, with sla-monitor's alert id.

    Due `target_seconds` after `arrived_at`; fired at the due time unless `fired_at`
    says otherwise, and the business time counted is the wall time between them
    unless given.
    """
    due = arrived_at + timedelta(seconds=target_seconds)
    fired = fired_at or due
    clock = SlaTarget(target)
    step = AlertKind(kind)
    # sla-monitor's derivation (domain/alerts.py): the first cycle leaves the cycle out.
    extra = () if cycle == 1 else (f"cycle {cycle}",)
    ident = derive_id("sla.alert", contact_id, clock, step, str(level), *extra)
    queue = QueueKind(queue_kind)
    elapsed = (
        elapsed_business_seconds
        if elapsed_business_seconds is not None
        else max(0.0, (fired - arrived_at).total_seconds())
    )
    return SlaAlert(
        **_envelope(ident, SLA_MONITOR, contact_id, fired),
        data=SlaAlertData(
            alert_id=ident,
            contact_id=contact_id,
            queue_id=queue_id,
            queue_kind=queue,
            vendor=_vendor(queue, vendor),
            priority=priority,
            priority_label=priority_label,
            channel=Channel(channel),
            target=clock,
            kind=step,
            level=level,
            cycle=cycle,
            due_at=due,
            fired_at=fired,
            target_seconds=target_seconds,
            elapsed_business_seconds=elapsed,
            policy_rule=policy_rule,
        ),
    )


def audit(
    audit_id: str = "1",
    *,
    actor: str = "test",
    action: AuditAction | str = AuditAction.CUSTOMER_READ,
    customer_ids: list[str] | None = None,
    outcome: AuditOutcome | str = AuditOutcome.OK,
    at: datetime = T0,
) -> AuditRecorded:
    """`switchboard.audit.recorded.v1` as profile-lookup publishes it (about `cust-1` unless told)."""
    return AuditRecorded(
        **_envelope(audit_event_id(PROFILE_LOOKUP, audit_id), PROFILE_LOOKUP, audit_id, at),
        data=AuditRecordedData(
            audit_id=audit_id,
            actor=actor,
            action=AuditAction(action),
            customer_ids=["cust-1"] if customer_ids is None else customer_ids,
            outcome=AuditOutcome(outcome),
            at=at,
        ),
    )
