"""The audit trail and the bulk-read defences, on the real database and broker: a record
and an event for every access to customer data, naming the caller and the customer ids
and never a value; refusals with their outcome; an append-only table; an outbox that
loses nothing; paged lists; customer reads limited per token."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from profiles_support import customer, seed
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from profile_lookup.audit import AuditPublisher
from profile_lookup.config import SERVICE, ProfilesSettings
from profile_lookup.service import SOURCE
from profile_lookup.wiring import build
from switchboard_events import AUDIT_DECODER, AuditRecorded
from switchboard_events.audit import audit_event_id
from switchboard_events.testing import T0
from switchboard_runtime import kafka
from switchboard_runtime.auth import Scope
from switchboard_runtime.host import Resources, Service
from switchboard_runtime.pagination import MAX_PAGE_SIZE
from switchboard_runtime.ratelimit import RateLimitSettings
from switchboard_runtime.testing import ManualClock, auth, eventually
from switchboard_runtime.testing.kafka import read_to_end
from switchboard_runtime.web import create_app

pytestmark = pytest.mark.integration

Sessions = async_sessionmaker[AsyncSession]
CALLER = "test-all"  # the name of the token `auth.HEADERS` sends
OTHER, OTHER_BEARER = auth.scoped_token(frozenset({Scope.CUSTOMERS_READ}), "other-reader")
IVR, IVR_BEARER = auth.scoped_token(frozenset({Scope.CUSTOMERS_IDENTIFY}), "ivr")

PHONE, PHONE_E164 = "+44 7700 900123", "+447700900123"
EMAIL, EMAIL_NORMALISED = "Emma Stone <EMMA@Example.co.uk>", "emma@example.co.uk"
NAME = "Emma Stone"
PII = (PHONE, PHONE_E164, "7700900123", EMAIL, EMAIL_NORMALISED, "emma@", NAME)


@dataclass
class Audited:
    client: httpx.AsyncClient
    clock: ManualClock
    service: Service
    publisher: AuditPublisher
    settings: ProfilesSettings


@pytest.fixture
async def audited(
    settings: ProfilesSettings, engine: AsyncEngine, sessions: Sessions
) -> AsyncIterator[Audited]:
    """The admin API as `build` wires it, on a clock the test moves, reads limited to a
    burst of 3 and one a second, and a started producer for the audit events."""
    limited = settings.model_copy(
        update={"customer_reads": RateLimitSettings(per_minute=60, burst=3)}
    )
    clock = ManualClock()
    await kafka.create_topics(settings.kafka, [limited.audit_topic])
    producer = kafka.make_producer(settings.kafka, client_id="profiles-audit-test")
    await producer.start()
    service = build(Resources(limited, engine, sessions, producer, clock))
    app = create_app(SERVICE.name, {}, service.routers, auth=auth.authenticator(OTHER, IVR))
    publisher = AuditPublisher(
        sessions, producer, topic=limited.audit_topic, source=SOURCE, clock=clock, poll_s=1.0
    )
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://profiles.test", headers=auth.HEADERS
        ) as http:
            yield Audited(http, clock, service, publisher, limited)
    finally:
        await producer.stop()


async def trail(sessions: Sessions, actor: str = CALLER) -> list[tuple[str, list[str], str]]:
    """(action, customer ids, outcome) of the actor's records, oldest first."""
    async with sessions() as session:
        rows = await session.execute(
            text(
                "SELECT action, customer_ids, outcome FROM profiles.audit_log"
                " WHERE actor = :actor ORDER BY audit_id"
            ),
            {"actor": actor},
        )
    return [(r.action, list(r.customer_ids), r.outcome) for r in rows]


async def stored_trail_text(sessions: Sessions) -> str:
    async with sessions() as session:
        rows = await session.execute(text("SELECT a::text FROM profiles.audit_log a"))
    return "\n".join(r[0] for r in rows)


async def published(audited: Audited) -> list[tuple[bytes | None, bytes, AuditRecorded]]:
    messages = await read_to_end(audited.settings.kafka, audited.settings.audit_topic)
    out = []
    for m in messages:
        event = AUDIT_DECODER.decode(m.value)
        assert isinstance(event, AuditRecorded)
        out.append((m.key, m.value, event))
    return out


def assert_no_pii(where: str, blob: str) -> None:
    lowered = blob.lower()
    for value in PII:
        assert value.lower() not in lowered, f"{where} holds {value!r}"


EMMA = {
    "customer_id": "cust-1",
    "display_name": NAME,
    "phones": [PHONE],
    "emails": [EMAIL],
}


async def test_every_access_leaves_a_record_and_an_event_naming_the_caller_and_customers(
    audited: Audited, sessions: Sessions
) -> None:
    http = audited.client
    assert (await http.post("/customers", json=EMMA)).status_code == 201
    assert (await http.get("/customers/cust-1")).status_code == 200
    assert (await http.patch("/customers/cust-1", json={"segment": "smb"})).status_code == 200
    added = await http.post(
        "/customers/cust-1/identities", json={"kind": "phone", "value": "+44 7700 900555"}
    )
    assert added.status_code == 201
    removed = await http.delete(
        "/customers/cust-1/identities", params={"kind": "email", "value": EMAIL}
    )
    assert removed.status_code == 204
    audited.clock.advance(10)  # the reads' burst is spent: let it refill
    assert (await http.get("/lookup", params={"phone": PHONE})).status_code == 200
    assert (await http.get("/customers/cust-1/contacts")).status_code == 200
    assert (await http.post("/customers", json={"customer_id": "cust-2"})).status_code == 201
    merged = await http.post("/customers/cust-1/merge", json={"source_customer_id": "cust-2"})
    assert merged.status_code == 200
    body = b'{"customer_id": "cust-3"}\n{"customer_id": "cust-4"}\n'
    assert (await http.post("/import?format=jsonl", content=body)).status_code == 200
    assert (await http.delete("/customers/cust-4")).status_code == 200
    assert (await http.post("/customers/cust-1/erase")).status_code == 200

    expected = [
        ("customer.create", ["cust-1"], "ok"),
        ("customer.read", ["cust-1"], "ok"),
        ("customer.update", ["cust-1"], "ok"),
        ("customer.identity.add", ["cust-1"], "ok"),
        ("customer.identity.remove", ["cust-1"], "ok"),
        ("customer.lookup", ["cust-1"], "ok"),
        ("customer.contacts.read", ["cust-1"], "ok"),
        ("customer.create", ["cust-2"], "ok"),
        ("customer.merge", ["cust-1", "cust-2"], "ok"),
        ("customer.import", ["cust-3", "cust-4"], "ok"),
        ("customer.delete", ["cust-4"], "ok"),
        ("customer.erase", ["cust-1", "cust-2"], "ok"),  # cust-2 was merged into it
    ]
    assert await trail(sessions) == expected

    assert await audited.publisher.publish_pending() == len(expected)
    assert await audited.publisher.publish_pending() == 0, "each record is published once"
    events = await published(audited)
    ours = sorted((e for e in events if e[2].data.actor == CALLER), key=lambda e: int(e[2].subject))
    assert [(e.data.action, e.data.customer_ids, e.data.outcome) for _, _, e in ours] == expected
    for n, (key, _, event) in enumerate(ours):
        assert key == CALLER.encode()
        assert event.id == audit_event_id(SOURCE, event.data.audit_id)
        assert event.source == SOURCE
        assert event.data.at == (T0 if n < 5 else T0 + timedelta(seconds=10)), "when it was done"
    assert_no_pii("the audit table", await stored_trail_text(sessions))
    assert_no_pii("audit.events", "\n".join(value.decode() for _, value, _ in events))


async def test_a_refused_or_failed_action_is_recorded_with_its_outcome(
    audited: Audited, sessions: Sessions
) -> None:
    http = audited.client
    assert (await http.get("/customers/nobody")).status_code == 404
    assert (await http.get("/lookup", params={"phone": "12ab"})).status_code == 422
    assert (await http.post("/customers", json={"customer_id": "cust-1"})).status_code == 201
    assert (await http.post("/customers", json={"customer_id": "cust-1"})).status_code == 409
    merged = await http.post("/customers/cust-1/merge", json={"source_customer_id": "cust-1"})
    assert merged.status_code == 409
    assert (await http.post("/customers/cust-1/erase")).status_code == 200
    audited.clock.advance(10)
    assert (await http.get("/customers/cust-1")).status_code == 410
    assert (await http.patch("/customers/cust-1", json={"tier": "vip"})).status_code == 410

    assert await trail(sessions) == [
        ("customer.read", ["nobody"], "not_found"),
        ("customer.lookup", [], "invalid"),
        ("customer.create", ["cust-1"], "ok"),
        ("customer.create", ["cust-1"], "conflict"),
        ("customer.merge", ["cust-1"], "conflict"),
        ("customer.erase", ["cust-1"], "ok"),
        ("customer.read", ["cust-1"], "erased"),
        ("customer.update", ["cust-1"], "erased"),
    ]


@pytest.mark.parametrize(("route", "action"), [("erase", "erase"), ("delete", "delete")])
async def test_removing_a_customer_names_the_customers_merged_into_it(
    audited: Audited, sessions: Sessions, route: str, action: str
) -> None:
    await seed(sessions, [customer(c) for c in ("keep", "dupe", "older", "other")])
    http = audited.client
    for target, source in (("dupe", "older"), ("keep", "dupe")):
        merged = await http.post(f"/customers/{target}/merge", json={"source_customer_id": source})
        assert merged.status_code == 200
    if route == "erase":
        removed = await http.post("/customers/keep/erase")
    else:
        removed = await http.delete("/customers/keep")
    assert removed.status_code == 200
    assert removed.json()["customers_removed"] == 3

    assert (await trail(sessions))[-1] == (f"customer.{action}", ["keep", "dupe", "older"], "ok")
    async with sessions() as session:
        left = await session.execute(text("SELECT customer_id FROM profiles.customers"))
    assert [r.customer_id for r in left] == ["other"], "the audit names exactly those removed"


async def test_an_import_that_loses_a_race_records_what_its_rows_really_did(
    audited: Audited, sessions: Sessions
) -> None:
    """Another writer takes a CRM id between the import's check and its insert: the
    chunk is rolled back and settled row by row, and the trail says what each did."""
    body = b"".join(
        json.dumps({"customer_id": c} | ({"external_ref": "crm-1"} if c == "c-1" else {})).encode()
        + b"\n"
        for c in ("c-0", "c-1", "c-2")
    )
    async with sessions() as rival, rival.begin():
        await rival.execute(
            text(
                "INSERT INTO profiles.customers (customer_id, external_ref, tier)"
                " VALUES ('rival', 'crm-1', 'standard')"
            )
        )
        importing = asyncio.create_task(audited.client.post("/import?format=jsonl", content=body))
        await eventually(lambda: blocked_on_lock(sessions), what="the import waiting for crm-1")
    answer = (await importing).json()  # the rival committed: the import's insert failed

    assert (answer["imported"], answer["rejected"]) == (2, 1)
    assert answer["rejections"] == [{"line": 2, "reason": "external_ref belongs to customer rival"}]
    assert await trail(sessions) == [
        ("customer.import", ["c-0"], "ok"),
        ("customer.import", ["c-1"], "conflict"),
        ("customer.import", ["c-2"], "ok"),
    ], "the lost race was settled, and each row recorded as it ended: c-1 was rejected"


async def test_an_import_records_the_rows_the_rules_reject_as_conflicts(
    audited: Audited, sessions: Sessions
) -> None:
    """A row whose CRM id another customer holds, or for a customer merged away, is
    rejected: recorded as `conflict` naming the customer it is for, next to the `ok` of
    the rows written with it, or alone when it is the only row; never with a value."""
    await seed(sessions, [customer("owner", external_ref="crm-9"), customer("gone")])
    http = audited.client
    merged = await http.post("/customers/owner/merge", json={"source_customer_id": "gone"})
    assert merged.status_code == 200
    rows = [
        {"customer_id": "c-0", "display_name": NAME},
        {"customer_id": "c-1", "external_ref": "crm-9", "emails": [EMAIL]},
        {"customer_id": "gone", "phones": [PHONE]},
    ]
    body = b"".join(json.dumps(r).encode() + b"\n" for r in rows)
    answer = (await http.post("/import?format=jsonl", content=body)).json()
    assert (answer["imported"], answer["rejected"]) == (1, 2)
    alone = (await http.post("/import?format=jsonl", content=body.splitlines()[1])).json()
    assert alone["rejections"] == [{"line": 1, "reason": "external_ref belongs to customer owner"}]

    assert (await trail(sessions))[1:] == [
        ("customer.import", ["c-0"], "ok"),
        ("customer.import", ["c-1", "gone"], "conflict"),
        ("customer.import", ["c-1"], "conflict"),
    ]
    assert_no_pii("the audit table", await stored_trail_text(sessions))


async def blocked_on_lock(sessions: Sessions) -> bool:
    """Whether another session of this database waits for a lock."""
    async with sessions() as session:
        waiting = await session.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock'"
            )
        )
    return bool(waiting.scalar())


async def test_erasure_leaves_no_personal_data_in_the_trail(
    audited: Audited, sessions: Sessions
) -> None:
    http = audited.client
    assert (await http.post("/customers", json=EMMA)).status_code == 201
    assert (await http.get("/lookup", params={"phone": PHONE})).status_code == 200
    assert (await http.get("/lookup", params={"email": EMAIL})).status_code == 200
    assert (await http.get("/lookup", params={"email": "nobody@example.com"})).status_code == 200
    assert (await http.post("/customers/cust-1/erase")).status_code == 200
    await audited.publisher.publish_pending()

    stored = await stored_trail_text(sessions)
    assert_no_pii("the audit table after the erasure", stored)
    assert "nobody@" not in stored
    assert "cust-1" in stored, "the trail keeps who touched which customer id"
    events = await published(audited)
    assert len(events) == 5
    assert_no_pii("audit.events", "\n".join(value.decode() for _, value, _ in events))


async def test_the_trail_refuses_updates_deletes_and_truncation(
    audited: Audited, sessions: Sessions
) -> None:
    assert (await audited.client.get("/customers/nobody")).status_code == 404
    for statement in (
        "UPDATE profiles.audit_log SET actor = 'someone else'",
        "DELETE FROM profiles.audit_log",
        "TRUNCATE profiles.audit_log CASCADE",
    ):
        async with sessions() as session:
            with pytest.raises(DBAPIError, match="append-only"):
                await session.execute(text(statement))
    assert await trail(sessions) == [("customer.read", ["nobody"], "not_found")]


async def test_a_record_committed_before_a_crash_is_published_later_with_the_same_id(
    audited: Audited, sessions: Sessions
) -> None:
    # The action commits with its record; the process dies before publishing it.
    assert (await audited.client.post("/customers", json={"customer_id": "c-9"})).status_code == 201
    assert await published(audited) == []

    assert await audited.publisher.publish_pending() == 1  # the next instance
    [(_, _, first)] = await published(audited)
    # It dies again after the broker's acks, before the outbox row was deleted:
    async with sessions() as session, session.begin():
        await session.execute(
            text("INSERT INTO profiles.audit_outbox SELECT audit_id FROM profiles.audit_log")
        )
    assert await audited.publisher.publish_pending() == 1
    copies = await published(audited)
    assert [e.id for _, _, e in copies] == [first.id, first.id], "a copy, for consumers to drop"


async def test_a_record_the_contract_refuses_does_not_hold_up_the_others(
    audited: Audited, sessions: Sessions
) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            text(
                "WITH added AS (INSERT INTO profiles.audit_log"
                " (at, actor, action, customer_ids, outcome)"
                " VALUES (now(), 'dba', 'customer.read', ARRAY['not an id'], 'ok')"
                " RETURNING audit_id)"
                " INSERT INTO profiles.audit_outbox SELECT audit_id FROM added"
            )
        )
    assert (await audited.client.get("/customers/nobody")).status_code == 404

    assert await audited.publisher.publish_pending() == 2
    [(_, _, event)] = await published(audited)
    assert (event.data.actor, event.data.customer_ids) == (CALLER, ["nobody"])
    assert await audited.publisher.publish_pending() == 0, "neither is tried again"
    async with sessions() as session:
        kept = (await session.execute(text("SELECT count(*) FROM profiles.audit_log"))).scalar()
    assert kept == 2, "the refused record stays in the trail"


async def test_the_publisher_task_publishes_what_the_api_records(audited: Audited) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(audited.service.tasks["audit-publisher"](stop))
    try:
        await audited.clock.until_sleeping()  # the outbox was empty
        assert (await audited.client.get("/customers/nobody")).status_code == 404
        audited.clock.advance(audited.settings.audit_publish_seconds)

        async def one_event() -> list[Any] | None:
            return await published(audited) or None

        [(_, _, event)] = await eventually(one_event, what="the audit event of the read")
        assert (event.data.action, event.data.outcome) == ("customer.read", "not_found")
    finally:
        stop.set()
        audited.clock.advance(audited.settings.audit_publish_seconds)
        await task


async def test_reading_customers_one_after_another_is_limited_per_token_and_recorded(
    audited: Audited, sessions: Sessions
) -> None:
    await seed(sessions, [customer(f"c-{n}", f"+4477009001{n:02d}") for n in range(6)])
    http = audited.client
    for n in range(3):
        assert (await http.get(f"/customers/c-{n}")).status_code == 200

    refused = await http.get("/customers/c-3")
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    assert "too many customer reads" in refused.json()["detail"]
    assert (await http.get("/lookup", params={"phone": "+447700900104"})).status_code == 429
    assert (await http.get("/customers/c-3/contacts")).status_code == 429
    other = {"Authorization": f"Bearer {OTHER_BEARER}"}
    assert (await http.get("/customers/c-4", headers=other)).status_code == 200, "its own bucket"

    audited.clock.advance(1)
    assert (await http.get("/customers/c-3")).status_code == 200
    assert (await http.get("/customers/c-5")).status_code == 429

    assert await trail(sessions) == [
        ("customer.read", ["c-0"], "ok"),
        ("customer.read", ["c-1"], "ok"),
        ("customer.read", ["c-2"], "ok"),
        ("customer.read", ["c-3"], "rate_limited"),
        ("customer.lookup", [], "rate_limited"),
        ("customer.contacts.read", ["c-3"], "rate_limited"),
        ("customer.read", ["c-3"], "ok"),
        ("customer.read", ["c-5"], "rate_limited"),
    ]
    assert await trail(sessions, "other-reader") == [("customer.read", ["c-4"], "ok")]


async def test_lists_come_in_pages_of_a_bounded_size(audited: Audited, sessions: Sessions) -> None:
    """Five customers share a phone (a family line): a lookup pages through them."""
    await seed(sessions, [customer(f"c-{n}", PHONE, display_name="x") for n in range(5)])
    http = audited.client
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        audited.clock.advance(1)
        params = {"phone": PHONE, "limit": "2"} | ({"cursor": cursor} if cursor else {})
        page = (await http.get("/lookup", params=params)).json()
        assert page["status"] == "ambiguous"
        assert [c["customer_id"] for c in page["customers"]] == page["customer_ids"]
        seen += page["customer_ids"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert (seen, pages) == ([f"c-{n}" for n in range(5)], 3)

    for url in ("/lookup?phone=1", "/customers/c-1/contacts", "/admin/audit"):
        over = await http.get(url, params={"limit": str(MAX_PAGE_SIZE + 1)})
        assert over.status_code == 422, url
        assert "limit" in over.json()["detail"]
        forged = await http.get(url, params={"cursor": "Zm9yZ2Vk"})
        assert forged.status_code == 400, url


async def test_a_lookup_shows_profiles_only_to_a_caller_who_may_read_them(
    audited: Audited, sessions: Sessions
) -> None:
    await seed(sessions, [customer("c-1", PHONE, EMAIL, display_name=NAME)])
    http = audited.client
    ivr = {"Authorization": f"Bearer {IVR_BEARER}"}

    identified = (await http.get("/lookup", params={"phone": PHONE}, headers=ivr)).json()
    assert (identified["status"], identified["customer_ids"]) == ("known", ["c-1"])
    assert identified["customers"] == []
    assert NAME not in json.dumps(identified), "no profile without customers:read"
    assert (await http.get("/customers/c-1", headers=ivr)).status_code == 403

    read = (await http.get("/lookup", params={"phone": PHONE})).json()
    assert read["customer_ids"] == ["c-1"]
    assert [(c["customer_id"], c["display_name"]) for c in read["customers"]] == [("c-1", NAME)]
    assert "identities" not in read["customers"][0], "a phone lookup shows no emails"
    assert await trail(sessions, "ivr") == [("customer.lookup", ["c-1"], "ok")]


async def test_the_audit_route_filters_by_customer_actor_and_time_and_pages(
    audited: Audited, sessions: Sessions
) -> None:
    await seed(sessions, [customer("c-1"), customer("c-2")])
    other = {"Authorization": f"Bearer {OTHER_BEARER}"}
    http = audited.client
    await http.get("/customers/c-1")
    audited.clock.advance(60)
    await http.get("/customers/c-2")
    await http.get("/customers/c-1", headers=other)
    await http.get("/customers/c-2", headers=other)

    async def records(**params: str) -> list[tuple[str, list[str]]]:
        body = (await http.get("/admin/audit", params=params)).json()
        return [(r["actor"], r["customer_ids"]) for r in body["records"]]

    assert await records(customer_id="c-1") == [
        ("other-reader", ["c-1"]),
        ("test-all", ["c-1"]),
        ("test-seed", ["c-1", "c-2"]),
    ]
    assert await records(actor="other-reader") == [
        ("other-reader", ["c-2"]),
        ("other-reader", ["c-1"]),
    ]
    later = (T0 + timedelta(seconds=30)).isoformat()
    assert await records(actor="test-all", since=later) == [("test-all", ["c-2"])]
    assert await records(actor="test-all", until=later) == [("test-all", ["c-1"])]

    first = (await http.get("/admin/audit", params={"limit": "3"})).json()
    assert len(first["records"]) == 3
    rest = (await http.get("/admin/audit", params={"cursor": first["next_cursor"]})).json()
    assert rest["next_cursor"] is None
    ids = [r["audit_id"] for r in first["records"] + rest["records"]]
    assert ids == sorted(ids, reverse=True)
    assert len(ids) == 5
    assert json.dumps(first).count("c-") >= 3
