"""The identification rule and the history arithmetic, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from profile_lookup.domain.history import (
    HistoryRules,
    LifecycleStep,
    Prior,
    Recorded,
    fold,
    summarise,
)
from profile_lookup.domain.identify import LookupResult, Matches, SenderKeys, identify
from profile_lookup.domain.normalise import Invalid, Withheld
from switchboard_events import Channel, IdentificationStatus, LifecycleKind, MatchedBy, Outcome

PHONE = "+79161234567"
EMAIL = "ivan@example.com"


def matches(
    phone: set[str] | None = None, email: set[str] | None = None, ref: str | None = None
) -> Matches:
    found = {}
    if phone is not None:
        found["phone"] = phone
    if email is not None:
        found["email"] = email
    return Matches(by_external_ref=ref, by_identity=found)


def test_external_ref_on_file_wins_over_everything() -> None:
    v = identify(
        Channel.CHAT,
        SenderKeys(external_ref="crm-1", phone=PHONE, email=EMAIL),
        matches({"b"}, {"c"}, ref="a"),
    )
    assert (v.status, v.customer_id, v.matched_by) == (
        IdentificationStatus.KNOWN,
        "a",
        MatchedBy.EXTERNAL_REF,
    )
    assert v.conflict == ("b", "c")
    assert "phone on file belongs to another customer" in v.reasons


def test_calls_trust_the_phone_first_other_channels_the_email() -> None:
    keys = SenderKeys(phone=PHONE, email=EMAIL)
    found = matches({"p"}, {"e"})
    assert identify(Channel.CALL, keys, found).customer_id == "p"
    for channel in (Channel.EMAIL, Channel.CHAT, Channel.SOCIAL):
        verdict = identify(channel, keys, found)
        assert verdict.customer_id == "e"
        assert verdict.conflict == ("p", "e")


def test_a_shared_identity_is_ambiguous_and_names_no_customer() -> None:
    v = identify(Channel.CALL, SenderKeys(phone=PHONE), matches({"a", "b", "c"}))
    assert v.status == IdentificationStatus.AMBIGUOUS
    assert (v.customer_id, v.candidates, v.result) == (None, 3, LookupResult.AMBIGUOUS)


def test_a_unique_identity_decides_over_a_shared_one() -> None:
    v = identify(Channel.CALL, SenderKeys(phone=PHONE, email=EMAIL), matches({"a", "b"}, {"b"}))
    assert (v.customer_id, v.matched_by, v.conflict) == ("b", MatchedBy.EMAIL, None)
    assert "phone matches 2 customers" in v.reasons


def test_two_shared_identities_with_one_customer_in_common_decide_together() -> None:
    v = identify(
        Channel.EMAIL, SenderKeys(phone=PHONE, email=EMAIL), matches({"a", "b"}, {"b", "c"})
    )
    assert (v.status, v.customer_id, v.matched_by) == (
        IdentificationStatus.KNOWN,
        "b",
        MatchedBy.EMAIL,
    )
    v = identify(
        Channel.EMAIL, SenderKeys(phone=PHONE, email=EMAIL), matches({"a", "b"}, {"c", "d"})
    )
    assert (v.status, v.candidates) == (IdentificationStatus.AMBIGUOUS, 4)


def test_unknown_results_say_why() -> None:
    v = identify(Channel.CALL, SenderKeys(phone=Withheld()), matches())
    assert (v.status, v.result, v.reasons) == (
        IdentificationStatus.UNKNOWN,
        LookupResult.UNKNOWN,
        ("caller withheld their number",),
    )
    v = identify(Channel.CALL, SenderKeys(phone=Invalid("too few digits")), matches())
    assert (v.result, v.reasons) == (
        LookupResult.INVALID_IDENTITY,
        ("phone unparseable: too few digits",),
    )
    v = identify(Channel.EMAIL, SenderKeys(phone=Invalid("x"), email=EMAIL), matches(email={"e"}))
    assert v.customer_id == "e", "an unparseable phone does not stop the email from matching"
    assert v.reasons[0] == "phone unparseable: x"
    v = identify(Channel.CHAT, SenderKeys(external_ref="crm-9"), matches())
    assert v.reasons == ("external_ref not on file",)


T = datetime(2025, 3, 10, 12, tzinfo=UTC)
RULES = HistoryRules(repeat_window=timedelta(hours=72), repeat_same_type=True)


def test_summary_adds_earlier_batch_contacts_to_the_recorded_prior() -> None:
    prior = Prior(
        contacts_24h=0,
        contacts_7d=1,
        contacts_30d=2,
        open_contacts=1,
        csat_sum=3,
        csat_count=1,
        last_at=T - timedelta(days=3),
        last_channel="email",
        last_status="resolved",
        last_csat=3,
        last_csat_at=T - timedelta(days=3),
    )
    earlier = [
        Recorded(T - timedelta(hours=2), "call", "billing", status="abandoned"),
        Recorded(
            T - timedelta(hours=1), "chat", "technical", csat=5, csat_at=T - timedelta(minutes=30)
        ),
        Recorded(T + timedelta(hours=1), "call", "billing"),  # later: not history of T
    ]
    s = summarise(T, "billing", prior, earlier, RULES)
    assert (s.contacts_24h, s.contacts_7d, s.contacts_30d) == (2, 3, 4)
    assert s.open_contacts == 2
    assert (s.last_contact_at, s.last_channel) == (T - timedelta(hours=1), Channel.CHAT)
    assert s.last_outcome is None, "the last contact is still open"
    assert s.repeat_contact is True, "the abandoned billing call 2 h ago"
    assert (s.last_csat, s.avg_csat) == (5, 4.0)


def test_repeat_needs_the_same_type_unless_configured_otherwise() -> None:
    earlier = [Recorded(T - timedelta(hours=5), "call", "technical", status="resolved")]
    assert summarise(T, "billing", Prior(), earlier, RULES).repeat_contact is False
    loose = HistoryRules(repeat_same_type=False)
    s = summarise(T, "billing", Prior(), earlier, loose)
    assert s.repeat_contact is True
    assert s.last_outcome == Outcome.RESOLVED
    old = [Recorded(T - timedelta(hours=73), "call", "billing")]
    assert summarise(T, "billing", Prior(), old, RULES).repeat_contact is False


def test_lifecycle_folds_to_the_newest_status_and_score_in_any_order() -> None:
    steps = [
        LifecycleStep("c", LifecycleKind.RESOLVED, T),
        LifecycleStep("c", LifecycleKind.CSAT_RECORDED, T + timedelta(minutes=5), csat=2),
        LifecycleStep("c", LifecycleKind.REOPENED, T + timedelta(hours=1)),
        LifecycleStep("c", LifecycleKind.CSAT_RECORDED, T + timedelta(minutes=1), csat=4),
        LifecycleStep("c", LifecycleKind.ASSIGNED, T + timedelta(hours=2)),
        LifecycleStep("d", LifecycleKind.FIRST_RESPONSE, T),
    ]
    for order in (steps, list(reversed(steps))):
        [change] = fold(order)
        assert (change.status, change.status_at, change.closed_at) == (
            "open",
            T + timedelta(hours=1),
            None,
        )
        assert (change.csat, change.csat_at) == (2, T + timedelta(minutes=5))


def test_enriched_ids_equal_the_contract_derivation() -> None:
    from profile_lookup.service import enriched_id
    from switchboard_events import derive_id

    for inbound_id in ("tel-20250303-0001", 'with"quote', "back\\slash", "ünïcode", "a" * 128):
        source = f"connector/{inbound_id[:20]}"
        assert enriched_id(source, inbound_id) == derive_id("contact.enriched", source, inbound_id)
