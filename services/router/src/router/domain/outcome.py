"""A `Decision` as the `switchboard.routing.decided.v1` event, with the customer view the
queue may see: full for in-house queues, minimised (masks, pseudonymous id, no name)
for queues whose `data_visibility` is minimised. No raw phone or email is ever copied.

The event is assembled as plain data and validated by the contract in one pass (pydantic's
core validates nested data faster than nested model constructors would build it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from router.domain.engine import Decision
from router.domain.pii import mask_email, mask_phone, pseudonym
from switchboard_events import ContactEnriched, IdentificationStatus, RoutingDecided, decision_id
from switchboard_events.routing import MAX_PRIORITY

SOURCE = "switchboard/router"


def customer_view(event: ContactEnriched, minimised: bool) -> dict[str, Any] | None:
    data = event.data
    sender, customer = data.contact.sender, data.customer
    view: dict[str, Any] = {
        "masked_phone": mask_phone(sender.phone) if sender.phone else None,
        "masked_email": mask_email(sender.email) if sender.email else None,
        "language": (customer.language if customer else None) or data.contact.language_hint,
    }
    if not minimised:
        view["display_name"] = (customer.display_name if customer else None) or sender.display_name
    if customer is not None:
        view |= {
            "tier": customer.tier,
            "segment": customer.segment,
            "region": customer.region,
            "timezone": customer.timezone,
            "repeat_contact": data.history.repeat_contact,
        }
    view = {k: v for k, v in view.items() if v is not None}
    return view or None


def _clamp(value: int) -> int:
    return max(-MAX_PRIORITY, min(MAX_PRIORITY, value))


def decision_event(
    event: ContactEnriched,
    decision: Decision,
    policy_version: str,
    decided_at: datetime,
    pseudonym_key: bytes,
    *,
    ident: str | None = None,
) -> RoutingDecided:
    """The outgoing event; its id is derived from the inbound event id, so replays repeat it
    (`ident`: that id when the caller has derived it already).

    `decided_at` is the batch snapshot's instant, at which the calendars and load were
    evaluated: it is the decision's `evaluated_at` too. A replay re-emits the stored
    event, so neither instant changes on replay.
    """
    data = event.data
    contact = data.contact
    queue = decision.queue
    minimised = queue.visibility == "minimised"
    customer_id = customer_key = None
    if data.customer is not None and data.identification.status == IdentificationStatus.KNOWN:
        raw_id = data.customer.customer_id
        # One key for every queue, so sla-monitor counts a repeat contact whichever queue
        # (in-house or vendor) took the first one; a minimised view sees it as its id already.
        customer_key = pseudonym(raw_id, pseudonym_key)
        customer_id = customer_key if minimised else raw_id
    ident = ident or decision_id(data.inbound_event_id, data.inbound_source)
    overflow = decision.overflow
    return RoutingDecided.model_validate(
        {
            "id": ident,
            "source": SOURCE,
            "subject": contact.contact_id,
            "time": decided_at,
            "producedtime": decided_at,
            "data": {
                "decision_id": ident,
                "inbound_event_id": data.inbound_event_id,
                "contact_id": contact.contact_id,
                "customer_id": customer_id,
                "customer_key": customer_key,
                "customer_status": data.identification.status,
                "identity_conflict": data.identification.conflict is not None,
                "queue_id": queue.id,
                "queue_kind": queue.kind,
                "vendor": queue.spec.vendor,
                "priority": decision.priority,
                "priority_label": decision.label,
                "priority_factors": [
                    {"factor": name, "contribution": _clamp(value)}
                    for name, value in decision.factors
                ],
                "rule": decision.rule,
                "reasons": list(decision.reasons),
                "overflow": None
                if overflow is None
                else {
                    "from_queue": overflow.from_queue,
                    "reason": overflow.reason,
                    "expected_wait_seconds": overflow.expected_wait_seconds,
                },
                "policy_version": policy_version,
                "arrived_at": event.time,
                "decided_at": decided_at,
                "evaluated_at": decided_at,
                "routing_latency_ms": max(0.0, (decided_at - event.time).total_seconds() * 1000),
                "channel": contact.channel,
                "contact_type": contact.contact_type,
                "cost_per_contact": queue.spec.cost_per_contact,
                "language": contact.language_hint
                or (data.customer.language if data.customer else None),
                "customer": customer_view(event, minimised),
                # For sla-monitor, on vendors' queues too: an opaque id, the vendor's to meet.
                "contract_id": data.customer.contract_id if data.customer else None,
            },
        }
    )
