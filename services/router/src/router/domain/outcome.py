"""A `Decision` as the `switchboard.routing.decided.v1` event, with the customer view the
queue may see: full for in-house queues, minimised (masks, pseudonymous id, no name)
for queues whose `data_visibility` is minimised. No raw phone or email is ever copied.

The router's hot path assembles the event as plain data and encodes it once
(`decision_data`, `decision_bytes`): validating a model of what is valid by construction
cost as much as deciding. `decision_event` is the same data as the validated model.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic_core import to_json

from router.domain.engine import Decision
from router.domain.pii import customer_key, mask_email, mask_phone, pseudonym
from switchboard_events import ContactEnriched, IdentificationStatus, RoutingDecided, decision_id
from switchboard_events.routing import MAX_PRIORITY

SOURCE = "switchboard/router"
_TYPE = RoutingDecided.event_type()


def customer_view(event: ContactEnriched, minimised: bool) -> dict[str, Any] | None:
    """What the queue's agents may see of the customer, in `CustomerView`'s field order,
    without absent fields (only the present ones are added: nothing to drop afterwards)."""
    data = event.data
    sender, customer = data.contact.sender, data.customer
    view: dict[str, Any] = {}
    if customer is not None:
        view["tier"] = customer.tier
        if customer.segment is not None:
            view["segment"] = customer.segment
    language = (customer.language if customer else None) or data.contact.language_hint
    if language is not None:
        view["language"] = language
    if customer is not None:
        if customer.region is not None:
            view["region"] = customer.region
        if customer.timezone is not None:
            view["timezone"] = customer.timezone
    if not minimised:
        name = (customer.display_name if customer else None) or sender.display_name
        if name is not None:
            view["display_name"] = name
    if sender.phone:
        view["masked_phone"] = mask_phone(sender.phone)
    if sender.email:
        view["masked_email"] = mask_email(sender.email)
    if customer is not None:
        view["repeat_contact"] = data.history.repeat_contact
    return view or None


def _clamp(value: int) -> int:
    return max(-MAX_PRIORITY, min(MAX_PRIORITY, value))


def decision_data(
    event: ContactEnriched,
    decision: Decision,
    policy_version: str,
    decided_at: datetime,
    pseudonym_key: bytes,
    *,
    ident: str | None = None,
) -> dict[str, Any]:
    """The outgoing event as plain data, in the contract's field order without absent fields,
    so `to_json` of it is the bytes `encode` gives of the model (`ident`: the event id when
    the caller has derived it already).

    Every value is valid by construction: the contact was decoded, names and labels come
    from the validated policy, reasons and factors are bounded by the engine. The tests
    hold the bytes equal to the model's and valid against the committed JSON Schema.

    `decided_at` is the batch snapshot's instant, at which the calendars and load were
    evaluated: it is the decision's `evaluated_at` too. A replay re-emits the stored
    event, so neither instant changes on replay.
    """
    data = event.data
    contact = data.contact
    queue = decision.queue
    minimised = queue.visibility == "minimised"
    ident = ident or decision_id(data.inbound_event_id, data.inbound_source)
    status = data.identification.status
    out: dict[str, Any] = {
        "decision_id": ident,
        "inbound_event_id": data.inbound_event_id,
        "contact_id": contact.contact_id,
    }
    if data.customer is not None and status == IdentificationStatus.KNOWN:
        raw_id = data.customer.customer_id
        out["customer_id"] = pseudonym(raw_id, pseudonym_key) if minimised else raw_id
        # One key for every queue, so sla-monitor counts a repeat contact whichever queue
        # (in-house or vendor) took the first one; never the id nor the vendor's pseudonym.
        out["customer_key"] = customer_key(raw_id, pseudonym_key)
    out["customer_status"] = status.value
    out["identity_conflict"] = data.identification.conflict is not None
    out["queue_id"] = queue.id
    out["queue_kind"] = queue.kind.value
    if queue.spec.vendor is not None:
        out["vendor"] = queue.spec.vendor
    out["priority"] = decision.priority
    out["priority_label"] = decision.label
    out["priority_factors"] = [
        {"factor": name, "contribution": _clamp(value)} for name, value in decision.factors
    ]
    out["rule"] = decision.rule
    out["reasons"] = list(decision.reasons)
    overflow = decision.overflow
    if overflow is not None:
        out["overflow"] = {"from_queue": overflow.from_queue, "reason": overflow.reason}
        if overflow.expected_wait_seconds is not None:
            out["overflow"]["expected_wait_seconds"] = float(overflow.expected_wait_seconds)
    out["policy_version"] = policy_version
    out["arrived_at"] = event.time
    out["decided_at"] = decided_at
    out["evaluated_at"] = decided_at
    out["routing_latency_ms"] = max(0.0, (decided_at - event.time).total_seconds() * 1000)
    out["channel"] = contact.channel.value
    out["contact_type"] = contact.contact_type
    out["cost_per_contact"] = float(queue.spec.cost_per_contact)
    language = contact.language_hint or (data.customer.language if data.customer else None)
    if language is not None:
        out["language"] = language
    view = customer_view(event, minimised)
    if view is not None:
        out["customer"] = view
    # For sla-monitor, on vendors' queues too: an opaque id, the vendor's to meet.
    if data.customer is not None and data.customer.contract_id is not None:
        out["contract_id"] = data.customer.contract_id
    return {
        "specversion": "1.0",
        "id": ident,
        "source": SOURCE,
        "type": _TYPE,
        "subject": contact.contact_id,
        "time": decided_at,
        "producedtime": decided_at,
        "datacontenttype": "application/json",
        "data": out,
    }


def decision_bytes(data: dict[str, Any]) -> bytes:
    """The encoded event of `decision_data(...)`: one serialisation, no model in between."""
    return to_json(data)


def decision_event(
    event: ContactEnriched,
    decision: Decision,
    policy_version: str,
    decided_at: datetime,
    pseudonym_key: bytes,
    *,
    ident: str | None = None,
) -> RoutingDecided:
    """The outgoing event as the contract's model, validated (for explanations and tools)."""
    return RoutingDecided.model_validate(
        decision_data(event, decision, policy_version, decided_at, pseudonym_key, ident=ident)
    )
