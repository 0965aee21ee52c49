"""The enriched event profile-lookup produces as plain data is the contract's, byte for byte.

The hot path encodes `Enricher.enriched` with `to_json` and never builds the model; the
property: for any contact, verdict, profile and history, the bytes are what `encode`
gives of the validated `ContactEnriched`, they decode with the topic's decoder, and they
validate against the committed JSON Schema.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from pydantic_core import to_json

from profile_lookup.domain.identify import Verdict
from profile_lookup.service import Enricher
from switchboard_events import (
    ENRICHED_DECODER,
    Channel,
    ContactEnriched,
    CustomerProfile,
    HistorySummary,
    IdentificationStatus,
    MatchedBy,
    Outcome,
    encode,
)
from switchboard_events.testing import T0, inbound

SCHEMAS = Path(__file__).resolve().parents[3] / "libs" / "events" / "schemas"
VALIDATOR = Draft202012Validator(
    json.loads((SCHEMAS / f"{ContactEnriched.event_type()}.schema.json").read_bytes()),
    format_checker=Draft202012Validator.FORMAT_CHECKER,
)
ENRICHER = Enricher(enriched_topic="contacts.enriched")

optional_name = st.none() | st.sampled_from(["Ivan Petrov", "Zoë d'Artagnan", "李雷"])
profiles = st.builds(
    CustomerProfile,
    customer_id=st.sampled_from(["cust-1", "bench-17"]),
    display_name=optional_name,
    tier=st.sampled_from(["standard", "vip"]),
    segment=st.none() | st.just("smb"),
    language=st.none() | st.just("de-DE"),
    region=st.none() | st.just("UK"),
    timezone=st.none() | st.just("Europe/London"),
    lifetime_value=st.none() | st.floats(0, 1e6),
)
histories = st.none() | st.builds(
    HistorySummary,
    contacts_24h=st.integers(0, 5),
    contacts_7d=st.integers(5, 9),
    contacts_30d=st.integers(10, 50),
    last_contact_at=st.none() | st.just(T0 - timedelta(hours=3)),
    last_channel=st.none() | st.sampled_from(list(Channel)),
    last_outcome=st.none() | st.sampled_from(list(Outcome)),
    repeat_contact=st.booleans(),
    last_csat=st.none() | st.integers(1, 5),
    avg_csat=st.none() | st.floats(1, 5),
)


@st.composite
def verdicts(draw: st.DrawFn) -> Verdict:
    status = draw(st.sampled_from(list(IdentificationStatus)))
    known = status == IdentificationStatus.KNOWN
    return Verdict(
        status=status,
        customer_id="cust-1" if known else None,
        matched_by=draw(st.sampled_from(list(MatchedBy))) if known else None,
        candidates=draw(
            st.integers(2, 5) if status == IdentificationStatus.AMBIGUOUS else st.integers(0, 1)
        ),
        conflict=draw(st.none() | st.just(("cust-1", "cust-2"))),
        reasons=tuple(draw(st.lists(st.sampled_from(["phone matched", "email unusable"]))))[:3],
    )


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    verdict=verdicts(),
    profile=profiles,
    history=histories,
    channel=st.sampled_from(list(Channel)),
    phone=st.none() | st.just("+44 7700 900958"),
    email=st.none() | st.just("ivan@example.com"),
    subject=st.none() | st.just("I was charged twice"),
    produced_after=st.integers(0, 10**7),
)
def test_the_plain_enriched_event_is_the_contracts(
    verdict: Verdict,
    profile: CustomerProfile,
    history: HistorySummary | None,
    channel: Channel,
    phone: str | None,
    email: str | None,
    subject: str | None,
    produced_after: int,
) -> None:
    event = inbound("c-1", channel=channel, phone=phone, email=email, subject=subject)
    customer = profile if verdict.status == IdentificationStatus.KNOWN else None
    now = T0 + timedelta(microseconds=produced_after)

    data = ENRICHER.enriched(event, verdict, customer, history, now)
    raw = to_json(data, exclude_none=True)

    model = ContactEnriched.model_validate(data)
    assert raw == encode(model)
    assert ENRICHED_DECODER.decode(raw) == model
    VALIDATOR.validate(json.loads(raw))
