"""The enrichment use case on the real database: identification, history, replays."""

from __future__ import annotations

import pytest
from profiles_support import customer, handle, handle_raw, hours, records, seed
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from profile_lookup.service import Enricher, enriched_id
from switchboard_events import IdentificationStatus, MatchedBy, Outcome, derive_id
from switchboard_events.testing import T0, inbound, lifecycle
from switchboard_runtime.testing import sample_total

pytestmark = pytest.mark.integration

Sessions = async_sessionmaker[AsyncSession]

IVAN = customer(
    "cust-ivan",
    "+79161234567",
    "8 (903) 765-43-21",
    "Ivan.Petrov@Example.com",
    tier="vip",
    segment="consumer",
    display_name="Ivan Petrov",
    language="ru",
    region="RU",
    timezone="Europe/Moscow",
    lifetime_value=18250.0,
    country="RU",
    external_ref="crm-ivan",
)
EMMA = customer(
    "cust-emma", "07700 900123", "emma@example.co.uk", country="GB", external_ref="crm-emma"
)
# A family phone shared by two customers, each with their own address.
OLGA = customer("cust-olga", "+7 495 111-22-33", "olga@example.ru", country="RU")
PAVEL = customer("cust-pavel", "8 495 111 22 33", "pavel@example.ru", country="RU")


@pytest.fixture
async def seeded(sessions: Sessions) -> None:
    await seed(sessions, [IVAN, EMMA, OLGA, PAVEL])


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(
    ("phone", "attributes", "dialled"),
    [
        ("8 (916) 123-45-67", {"country": "RU"}, None),
        ("8-916-123-45-67", {}, "+7 800 555-35-35"),
        ("+7 916 123 45 67", {}, None),
        ("+7-916-123-45-67", {}, None),
        ("+7.916.123.45.67", {}, None),
        ("007 916 1234567", {}, None),
        ("tel:+7-916-123-45-67;ext=12", {}, None),
        ("8 (916) 123-45-67 доб. 123", {"country": "RU"}, None),
        ("(916) 123-4567", {"country": "ru"}, None),
        ("\u00a0+7\u00a0916\u00a01234567 ", {}, None),
    ],
)
async def test_known_by_any_spelling_of_the_phone(
    enricher: Enricher,
    sessions: Sessions,
    phone: str,
    attributes: dict[str, str],
    dialled: str | None,
) -> None:
    [out] = await handle(
        enricher, sessions, [inbound("c1", phone=phone, attributes=attributes, dialled=dialled)]
    )
    ident = out.data.identification
    assert ident.status == IdentificationStatus.KNOWN, ident.reasons
    assert ident.matched_by == MatchedBy.PHONE
    assert out.data.customer is not None
    assert out.data.customer.customer_id == "cust-ivan"
    assert out.data.customer.tier == "vip"
    assert out.data.customer.timezone == "Europe/Moscow"
    assert out.id == derive_id("contact.enriched", "connector/test", "in-c1")
    assert out.id == enriched_id("connector/test", "in-c1")
    assert out.time == T0
    assert out.subject == "c1"


@pytest.mark.usefixtures("seeded")
async def test_every_identity_of_a_multi_identity_customer_finds_them(
    enricher: Enricher, sessions: Sessions
) -> None:
    outs = await handle(
        enricher,
        sessions,
        [
            inbound("a", phone="+7 916 123-45-67"),
            inbound("b", phone="+7 (903) 765 43 21"),
            inbound("c", channel="email", email="Ivan Petrov <IVAN.PETROV@example.COM>"),
            inbound("d", channel="chat", external_ref="crm-ivan", display_name="Ivan"),
        ],
    )
    assert [o.data.customer.customer_id if o.data.customer else None for o in outs] == [
        "cust-ivan"
    ] * 4
    assert [o.data.identification.matched_by for o in outs] == [
        MatchedBy.PHONE,
        MatchedBy.PHONE,
        MatchedBy.EMAIL,
        MatchedBy.EXTERNAL_REF,
    ]


@pytest.mark.usefixtures("seeded")
async def test_a_shared_phone_is_ambiguous_unless_the_email_decides(
    enricher: Enricher, sessions: Sessions
) -> None:
    shared, with_email = await handle(
        enricher,
        sessions,
        [
            inbound("s1", phone="+74951112233"),
            inbound(
                "s2",
                channel="chat",
                phone="8 495 111-22-33",
                email="pavel@example.ru",
                attributes={"country": "RU"},
            ),
        ],
    )
    assert shared.data.identification.status == IdentificationStatus.AMBIGUOUS
    assert shared.data.identification.candidates == 2
    assert shared.data.customer is None
    assert shared.partition_key() == "s1", "an unidentified contact is keyed by its contact id"
    assert "phone matches 2 customers" in shared.data.identification.reasons
    assert with_email.data.identification.status == IdentificationStatus.KNOWN
    assert with_email.data.identification.matched_by == MatchedBy.EMAIL
    assert with_email.data.customer is not None
    assert with_email.data.customer.customer_id == "cust-pavel"
    assert with_email.partition_key() == "cust-pavel"


@pytest.mark.usefixtures("seeded")
async def test_phone_and_email_of_different_customers_are_reported_as_a_conflict(
    enricher: Enricher, sessions: Sessions
) -> None:
    call, mail = await handle(
        enricher,
        sessions,
        [
            inbound("x1", phone="07700 900123", email="ivan.petrov@example.com"),
            inbound("x2", channel="email", phone="07700 900123", email="ivan.petrov@example.com"),
        ],
    )
    for out, winner, by in (
        (call, "cust-emma", MatchedBy.PHONE),
        (mail, "cust-ivan", MatchedBy.EMAIL),
    ):
        ident = out.data.identification
        assert ident.status == IdentificationStatus.KNOWN
        assert ident.matched_by == by
        assert out.data.customer is not None
        assert out.data.customer.customer_id == winner
        assert ident.conflict is not None
        assert ident.conflict.phone_customer_id == "cust-emma"
        assert ident.conflict.email_customer_id == "cust-ivan"
        assert "phone and email belong to different customers" in ident.reasons


@pytest.mark.usefixtures("seeded")
async def test_unknown_withheld_and_unparseable_senders_are_enriched_as_unknown(
    enricher: Enricher, sessions: Sessions
) -> None:
    stranger, withheld, anonymous, garbage, bad_mail, nobody, ref = await handle(
        enricher,
        sessions,
        [
            inbound("u1", phone="+44 20 7946 0999"),
            inbound("u2", withheld=True),
            inbound("u3", phone="anonymous"),
            inbound("u4", phone="12ab"),
            inbound("u5", channel="email", email="not-an-address"),
            inbound("u6", channel="chat", display_name="Visitor"),
            inbound("u7", channel="chat", external_ref="crm-nobody", phone="+7 (9"),
        ],
    )
    for out in (stranger, withheld, anonymous, garbage, bad_mail, nobody, ref):
        assert out.data.identification.status == IdentificationStatus.UNKNOWN
        assert out.data.customer is None
        assert out.data.history.contacts_30d == 0
        assert out.partition_key() == out.subject
    assert stranger.data.identification.reasons == ["phone not on file"]
    assert withheld.data.identification.reasons == ["caller withheld their number"]
    assert anonymous.data.identification.reasons == ["caller withheld their number"]
    assert garbage.data.identification.reasons == ["phone unparseable: not a phone number"]
    assert bad_mail.data.identification.reasons == ["email unparseable: no @ in the address"]
    assert nobody.data.identification.reasons == ["no phone, email or external_ref to match"]
    assert ref.data.identification.reasons == [
        "phone unparseable: not a phone number",
        "external_ref not on file",
    ]


@pytest.mark.usefixtures("seeded")
async def test_history_counters_and_repeat_flag_follow_contacts_and_lifecycle(
    enricher: Enricher, sessions: Sessions
) -> None:
    ivan = "+79161234567"
    # Day 0: a billing call, resolved, rated 2. Then a lifecycle event for a contact that
    # arrives later (it must not be lost).
    first = await handle(enricher, sessions, [inbound("h1", phone=ivan, at=T0)])
    assert first[0].data.history.contacts_30d == 0
    assert first[0].data.history.repeat_contact is False
    await handle(
        enricher,
        sessions,
        [
            lifecycle("h1", "first_response", T0 + hours(0.1)),
            lifecycle("h1", "resolved", T0 + hours(1)),
            lifecycle("h1", "csat_recorded", T0 + hours(1.1), csat_score=2),
            lifecycle("h2", "abandoned", T0 + hours(30.2)),  # h2 not recorded yet
        ],
    )
    # Day 1 (+30 h): a billing email: a repeat within 72 h; h1 resolved with csat 2.
    [second] = await handle(
        enricher,
        sessions,
        [inbound("h2", channel="email", email="ivan.petrov@example.com", at=T0 + hours(30))],
    )
    h = second.data.history
    assert (h.contacts_24h, h.contacts_7d, h.contacts_30d) == (0, 1, 1)
    assert h.open_contacts == 0
    assert h.last_contact_at == T0
    assert h.last_outcome == Outcome.RESOLVED
    assert h.repeat_contact is True
    assert (h.last_csat, h.avg_csat) == (2, 2.0)

    # Day 10: a technical chat (different type: not a repeat), and in the same batch a
    # billing call 1 h later (a repeat of the chat? no: other type; of h2? too old).
    third, fourth = await handle(
        enricher,
        sessions,
        [
            inbound(
                "h3",
                channel="chat",
                external_ref="crm-ivan",
                at=T0 + hours(240),
                contact_type="technical",
            ),
            inbound("h4", phone=ivan, at=T0 + hours(241)),
            lifecycle("h3", "csat_recorded", T0 + hours(240.5), csat_score=5),
        ],
    )
    h3, h4 = third.data.history, fourth.data.history
    assert (h3.contacts_24h, h3.contacts_7d, h3.contacts_30d) == (0, 0, 2)
    assert h3.last_outcome == Outcome.ABANDONED, "h2's early lifecycle event was kept"
    assert h3.repeat_contact is False
    assert h3.open_contacts == 0
    assert (h4.contacts_24h, h4.contacts_7d, h4.contacts_30d) == (1, 1, 3)
    assert h4.last_contact_at == T0 + hours(240)
    assert h4.repeat_contact is False
    assert h4.open_contacts == 1, "h3 is still open"
    assert (h4.last_csat, h4.avg_csat) == (5, 3.5)

    # A technical call 2 h after the chat: a repeat of it; then reopen h1 (old contact).
    [fifth] = await handle(
        enricher,
        sessions,
        [
            lifecycle("h1", "reopened", T0 + hours(242)),
            inbound("h5", phone=ivan, at=T0 + hours(242), contact_type="technical"),
        ],
    )
    h5 = fifth.data.history
    assert h5.repeat_contact is True
    assert (h5.contacts_24h, h5.contacts_30d) == (2, 4)
    assert h5.open_contacts == 3, "h1 reopened, h3 and h4 open"


@pytest.mark.usefixtures("seeded")
async def test_a_burst_in_one_batch_counts_like_the_same_contacts_one_by_one(
    enricher: Enricher, sessions: Sessions, settings: object
) -> None:
    events = [inbound(f"b{i}", phone="+79161234567", at=T0 + hours(i)) for i in range(4)]
    together = await handle(enricher, sessions, events)
    counts = [o.data.history.contacts_24h for o in together]
    assert counts == [0, 1, 2, 3]
    assert [o.data.history.repeat_contact for o in together] == [False, True, True, True]
    assert together[3].data.history.last_contact_at == T0 + hours(2)


@pytest.mark.usefixtures("seeded")
async def test_replaying_events_changes_nothing_and_repeats_the_output(
    enricher: Enricher, sessions: Sessions
) -> None:
    events = [
        inbound("r1", phone="+79161234567", at=T0),
        inbound("r2", phone="+74951112233", at=T0 + hours(1)),
        inbound("r3", withheld=True, at=T0 + hours(2)),
        lifecycle("r1", "resolved", T0 + hours(3)),
        lifecycle("r1", "csat_recorded", T0 + hours(4), csat_score=4),
        inbound("r4", phone="+79161234567", at=T0 + hours(5)),
    ]
    first = await handle_raw(enricher, sessions, events)
    state = await _state(sessions)

    again = await handle_raw(enricher, sessions, events)
    assert again == first, "a replay re-emits byte-identical records"
    assert await _state(sessions) == state

    # A replay mixed with a copy of an event at another offset, and a fresh event after it:
    # the copy emits nothing (its output went out for the record that claimed it).
    later = [*events[:2], events[0], inbound("r5", phone="+79161234567", at=T0 + hours(6))]
    mixed = await handle_raw(enricher, sessions, later)
    assert mixed[:2] == [first[0], first[1]]
    assert len(mixed) == 3
    assert mixed[2] not in first
    # A fresh enricher (another instance, cold caches) replays identically too.
    other = Enricher(enriched_topic=enricher.enriched_topic)
    assert await handle_raw(other, sessions, events) == first


@pytest.mark.usefixtures("seeded")
async def test_a_second_event_for_a_recorded_contact_repeats_its_enrichment(
    enricher: Enricher, sessions: Sessions
) -> None:
    [first] = await handle_raw(enricher, sessions, [inbound("d1", phone="+79161234567")])
    [again] = await handle_raw(
        enricher, sessions, [inbound("d1", phone="+79161234567", event_id="retry-of-d1")]
    )
    assert again == first
    async with sessions() as session:
        count = await session.scalar(text("SELECT count(*) FROM profiles.contacts"))
    assert count == 1


async def _state(sessions: Sessions) -> list[tuple[object, ...]]:
    async with sessions() as session:
        rows = await session.execute(
            text(
                "SELECT contact_id, inbound_event_id, customer_id, status, status_at, closed_at,"
                " csat, csat_at, enriched, recorded_at, updated_at FROM profiles.contacts"
                " ORDER BY contact_id"
            )
        )
        processed = await session.scalar(text("SELECT count(*) FROM profiles.processed_events"))
        return [tuple(r) for r in rows] + [(processed,)]


@pytest.mark.usefixtures("seeded")
async def test_lookups_are_counted_by_result(enricher: Enricher, sessions: Sessions) -> None:
    def count(result: str) -> float:
        return (
            REGISTRY.get_sample_value("switchboard_profiles_lookups_total", {"result": result})
            or 0.0
        )

    before = {r: count(r) for r in ("known", "unknown", "ambiguous", "invalid_identity")}
    writes = (
        REGISTRY.get_sample_value("switchboard_profiles_history_writes_total", {"kind": "contact"})
        or 0
    )
    await handle(
        enricher,
        sessions,
        [
            inbound("m1", phone="+79161234567"),
            inbound("m2", phone="+74951112233"),
            inbound("m3", phone="+442079460999"),
            inbound("m4", phone="12ab"),
            inbound("m5", withheld=True),
        ],
    )
    after = {r: count(r) - before[r] for r in before}
    assert after == {"known": 1, "unknown": 2, "ambiguous": 1, "invalid_identity": 1}
    assert (
        REGISTRY.get_sample_value("switchboard_profiles_history_writes_total", {"kind": "contact"})
        == writes + 5
    )


def tallies() -> dict[str, float]:
    """The handler's counters, each summed over its labels (or the one kind named)."""
    writes = "switchboard_profiles_history_writes_total"
    return {
        "lookups": sample_total("switchboard_profiles_lookups_total"),
        "conflicts": sample_total("switchboard_profiles_identity_conflicts_total"),
        "contacts written": sample_total(writes, kind="contact"),
        "lifecycle written": sample_total(writes, kind="lifecycle"),
        "replays": sample_total("switchboard_profiles_replayed_contacts_total"),
    }


@pytest.mark.usefixtures("seeded")
async def test_a_batch_is_counted_once_when_it_commits_whatever_retries_and_replays(
    enricher: Enricher, sessions: Sessions
) -> None:
    """An attempt rolled back (the runner's retry, or its halving around a bad record)
    counts nothing; the committed one counts once; a replay counts only its replays."""
    events = [
        inbound("k1", phone="+79161234567"),
        inbound("k2", phone="07700 900123", email="ivan.petrov@example.com"),  # a conflict
        inbound("k3", phone="+442079460999"),
        lifecycle("k9", "resolved", T0),  # before its contact: a placeholder
    ]
    before = tallies()

    def added() -> dict[str, float]:
        return {name: value - before[name] for name, value in tallies().items()}

    once = {
        "lookups": 3,
        "conflicts": 1,
        "contacts written": 3,
        "lifecycle written": 1,
        "replays": 0,
    }
    async with sessions() as session:
        attempt = await session.begin()
        assert len(await enricher(records(events), session)) == 3
        await attempt.rollback()
    assert added() == dict.fromkeys(once, 0), "a rolled-back attempt counts nothing"
    await handle(enricher, sessions, events)
    assert added() == once, "the committed attempt counts once"
    await handle(enricher, sessions, events)  # the same records again: a replay
    assert added() == once | {"replays": 3}, "a replay counts the contacts it re-emits"


@pytest.mark.usefixtures("seeded")
async def test_one_event_id_from_two_sources_and_two_topics_are_three_events(
    enricher: Enricher, sessions: Sessions
) -> None:
    step = lifecycle("c-lc", "resolved", T0, event_id="evt-0001")
    await handle(enricher, sessions, [step.model_copy(update={"source": "connector/telephony"})])
    telephony = inbound("c-tel", phone="+79161234567", event_id="evt-0001")
    chat = inbound("c-chat", channel="chat", email="emma@example.co.uk", event_id="evt-0001")
    events = [
        telephony.model_copy(update={"source": "connector/telephony"}),
        chat.model_copy(update={"source": "connector/chat"}),
    ]
    out = await handle(enricher, sessions, events)
    assert [e.subject for e in out] == ["c-tel", "c-chat"]
    assert [e.data.inbound_source for e in out] == ["connector/telephony", "connector/chat"]
    assert out[0].id == enriched_id("connector/telephony", "evt-0001")
    assert out[1].id == enriched_id("connector/chat", "evt-0001") != out[0].id
    async with sessions() as session:
        statuses: dict[str, str] = dict(
            (await session.execute(text("SELECT contact_id, status FROM profiles.contacts"))).all()
        )
    assert statuses == {"c-lc": "resolved", "c-tel": "open", "c-chat": "open"}
    state = await _state(sessions)
    assert await handle(enricher, sessions, events) == out, "a replay re-emits each once"
    assert await _state(sessions) == state
