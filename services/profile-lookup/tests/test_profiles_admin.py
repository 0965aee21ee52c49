"""The admin API against the real database: CRUD, lookups, merge, erasure, import, errors."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from profiles_support import customer, handle, handle_raw, hours, seed
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from profile_lookup.service import Enricher
from switchboard_events import IdentificationStatus, MatchedBy
from switchboard_events.testing import T0, inbound, lifecycle

pytestmark = pytest.mark.integration

Sessions = async_sessionmaker[AsyncSession]


async def test_create_get_update_and_delete_a_customer(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/customers",
        json={
            "customer_id": "cust-1",
            "external_ref": "crm-1",
            "tier": "Premium",
            "display_name": "Ivan Petrov",
            "country": "RU",
            "phones": ["8 (916) 123-45-67"],
            "emails": ["Ivan <IVAN@Example.com>"],
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["tier"] == "premium"
    assert body["identities"] == [
        {"kind": "email", "value": "ivan@example.com"},
        {"kind": "phone", "value": "+79161234567"},
    ]
    assert (await client.get("/customers/cust-1")).json()["display_name"] == "Ivan Petrov"

    patched = await client.patch("/customers/cust-1", json={"tier": "vip", "segment": "smb"})
    assert patched.status_code == 200, patched.text
    assert (patched.json()["tier"], patched.json()["segment"]) == ("vip", "smb")
    assert patched.json()["display_name"] == "Ivan Petrov", "absent fields are kept"
    assert len(patched.json()["identities"]) == 2

    added = await client.post(
        "/customers/cust-1/identities", json={"kind": "phone", "value": "+44 7700 900123"}
    )
    assert added.status_code == 201
    assert added.json()["value"] == "+447700900123"
    removed = await client.delete(
        "/customers/cust-1/identities", params={"kind": "email", "value": "ivan@EXAMPLE.com"}
    )
    assert removed.status_code == 204
    found = await client.get("/lookup", params={"phone": "007 916 123 45 67"})
    assert found.json()["status"] == "known"
    assert [c["customer_id"] for c in found.json()["customers"]] == ["cust-1"]
    assert (await client.get("/lookup", params={"email": "ivan@example.com"})).json()[
        "status"
    ] == "unknown"

    deleted = await client.delete("/customers/cust-1")
    assert deleted.status_code == 200
    assert deleted.json()["identities_deleted"] == 2
    assert (await client.get("/customers/cust-1")).status_code == 404


async def test_lookup_reports_ambiguity(client: httpx.AsyncClient, sessions: Sessions) -> None:
    await seed(sessions, [customer("a", "+447700900123"), customer("b", "07700 900123")])
    found = await client.get("/lookup", params={"phone": "tel:+44-7700-900123", "country": "GB"})
    assert found.json()["status"] == "ambiguous"
    assert sorted(c["customer_id"] for c in found.json()["customers"]) == ["a", "b"]


@pytest.mark.parametrize(
    ("method", "url", "payload", "status", "detail"),
    [
        ("get", "/customers/nobody", None, 404, "no customer nobody"),
        ("get", "/customers/with%20space", None, 422, "customer_id"),
        ("get", "/lookup", None, 400, "exactly one of"),
        ("get", "/lookup?phone=12ab", None, 422, "phone unparseable: not a phone number"),
        ("get", "/lookup?email=nope", None, 422, "email unparseable"),
        ("get", "/lookup?phone=123&country=XX", None, 422, "unknown region"),
        ("post", "/customers", {"tier": "gold", "customer_id": "c9"}, 422, "tier: expected one of"),
        ("post", "/customers", {"customer_id": "c9", "phones": ["12ab"]}, 422, "phones[0]"),
        ("post", "/customers", {"customer_id": "c9", "lifetime_value": -5}, 422, "lifetime_value"),
        ("post", "/customers", {"customer_id": "c9", "language": "english!"}, 422, "language"),
        ("post", "/customers", [1, 2], 422, ""),
        ("post", "/customers", {"customer_id": "existing"}, 409, "already exists"),
        (
            "post",
            "/customers",
            {"customer_id": "c9", "external_ref": "crm-x"},
            409,
            "external_ref belongs to customer existing",
        ),
        ("patch", "/customers/nobody", {"tier": "vip"}, 404, "no customer nobody"),
        ("patch", "/customers/existing", {"customer_id": "other"}, 422, "cannot be changed"),
        ("post", "/customers/existing/identities", {"kind": "fax", "value": "1"}, 422, "kind"),
        (
            "post",
            "/customers/existing/identities",
            {"kind": "email", "value": "x@y.com"},
            409,
            "already has",
        ),
        (
            "delete",
            "/customers/existing/identities?kind=phone&value=%2B447700900999",
            None,
            404,
            "no such phone",
        ),
        ("post", "/customers/existing/merge", {"source_customer_id": "existing"}, 409, "itself"),
        (
            "post",
            "/customers/existing/merge",
            {"source_customer_id": "nobody"},
            404,
            "no customer nobody",
        ),
        ("post", "/customers/existing/merge", {}, 422, "source_customer_id"),
        ("post", "/customers/nobody/erase", None, 404, "no customer nobody"),
        ("get", "/customers/existing/contacts?limit=0", None, 422, "limit"),
        ("post", "/import", None, 415, "format"),
    ],
)
async def test_bad_requests_get_4xx_with_a_message(
    client: httpx.AsyncClient,
    sessions: Sessions,
    method: str,
    url: str,
    payload: Any,
    status: int,
    detail: str,
) -> None:
    await seed(sessions, [customer("existing", "x@y.com", external_ref="crm-x")])
    kwargs: dict[str, Any] = {} if payload is None else {"json": payload}
    response = await client.request(method.upper(), url, **kwargs)
    assert response.status_code == status, response.text
    assert detail in json.dumps(response.json()["detail"])


async def test_malformed_json_body_is_a_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/customers", content=b'{"customer_id": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


async def test_merge_moves_identities_and_history_and_is_recorded(
    client: httpx.AsyncClient, sessions: Sessions, enricher: Enricher
) -> None:
    await seed(
        sessions,
        [
            customer(
                "keep", "+447700900111", "keep@example.com", external_ref="crm-keep", tier="vip"
            ),
            customer(
                "dupe",
                "+447700900222",
                "keep@example.com",
                external_ref="crm-dupe",
                language="en",
                region="UK",
            ),
        ],
    )
    await handle(
        enricher,
        sessions,
        [
            inbound("m1", phone="+447700900222", at=T0),
            inbound("m2", phone="+447700900111", at=T0 + hours(1)),
        ],
    )
    merged = await client.post("/customers/keep/merge", json={"source_customer_id": "dupe"})
    assert merged.status_code == 200, merged.text
    assert merged.json() | {"merged_at": None, "merge_id": None} == {
        "source_customer_id": "dupe",
        "target_customer_id": "keep",
        "identities_moved": 1,
        "contacts_moved": 1,
        "merged_at": None,
        "merge_id": None,
    }
    keep = (await client.get("/customers/keep")).json()
    assert keep["language"] == "en", "empty fields are filled from the merged customer"
    assert keep["tier"] == "vip"
    assert {i["value"] for i in keep["identities"]} == {
        "+447700900111",
        "+447700900222",
        "keep@example.com",
    }
    assert (await client.get("/customers/dupe")).json()["merged_into"] == "keep"
    contacts = (await client.get("/customers/keep/contacts")).json()["contacts"]
    assert [c["contact_id"] for c in contacts] == ["m2", "m1"]

    # The old phone and the old CRM id now find the survivor, with the whole history.
    by_phone, by_ref = await handle(
        enricher,
        sessions,
        [
            inbound("m3", phone="07700 900222", at=T0 + hours(2)),
            inbound("m4", channel="chat", external_ref="crm-dupe", at=T0 + hours(3)),
        ],
    )
    assert by_phone.data.customer is not None
    assert by_phone.data.customer.customer_id == "keep"
    assert by_phone.data.history.contacts_24h == 2
    assert by_ref.data.identification.matched_by == MatchedBy.EXTERNAL_REF
    assert by_ref.data.customer is not None
    assert by_ref.data.customer.customer_id == "keep"
    again = await client.post("/customers/keep/merge", json={"source_customer_id": "dupe"})
    assert again.status_code == 409
    async with sessions() as session:
        assert await session.scalar(text("SELECT count(*) FROM profiles.merges")) == 1


async def test_a_customers_contacts_page_by_keyset_unshifted_by_contacts_recorded_meanwhile(
    client: httpx.AsyncClient, sessions: Sessions, enricher: Enricher
) -> None:
    phone = "+447700900333"
    await seed(sessions, [customer("pager", phone)])

    async def contacts(**at: timedelta) -> None:
        await handle(
            enricher, sessions, [inbound(c, phone=phone, at=T0 + t) for c, t in at.items()]
        )

    # Newest first; c1 and c2 at the same instant, split across the first page's end.
    await contacts(a=hours(4), b=hours(3), c1=hours(2), c2=hours(2), d=hours(1))
    first = (await client.get("/customers/pager/contacts", params={"limit": "3"})).json()
    await contacts(newer=hours(5), older=hours(0))  # recorded while the caller pages
    params = {"limit": "3", "cursor": first["next_cursor"]}
    rest = (await client.get("/customers/pager/contacts", params=params)).json()

    seen = [c["contact_id"] for c in first["contacts"] + rest["contacts"]]
    assert sorted(seen) == ["a", "b", "c1", "c2", "d", "older"], "none repeated, none skipped"
    assert seen == ["a", "b", "c2", "c1", "d", "older"], "newest first, a tie by id descending"
    assert len(first["contacts"]) == 3
    assert rest["next_cursor"] is None


async def test_erasure_removes_personal_data_and_keeps_anonymised_counts(
    client: httpx.AsyncClient, sessions: Sessions, enricher: Enricher
) -> None:
    await seed(
        sessions,
        [customer("gone", "+447700900333", "gone@example.com", display_name="Gone Person")],
    )
    events = [
        inbound("e1", phone="+447700900333", at=T0),
        inbound("e2", channel="email", email="Gone Person <gone@example.com>", at=T0 + hours(1)),
        lifecycle("e1", "resolved", T0 + hours(2)),
    ]
    await handle(enricher, sessions, events)
    erased = await client.post("/customers/gone/erase")
    assert erased.status_code == 200, erased.text
    assert (erased.json()["identities_deleted"], erased.json()["contacts_unlinked"]) == (2, 2)

    gone = await client.get("/customers/gone")
    assert gone.status_code == 410
    assert "erased" in gone.json()["detail"]
    async with sessions() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT customer_id, enriched, erased, channel, status FROM profiles.contacts"
                    " ORDER BY contact_id"
                )
            )
        ).all()
        leftovers = await session.scalar(
            text("SELECT count(*) FROM profiles.identities WHERE customer_id = 'gone'")
        )
    assert [(r.customer_id, r.enriched, r.erased) for r in rows] == [(None, None, True)] * 2
    assert [(r.channel, r.status) for r in rows] == [("call", "resolved"), ("email", "open")]
    assert leftovers == 0
    # The same sender is a stranger now, and a replay does not bring the data back.
    [after] = await handle(
        enricher, sessions, [inbound("e3", phone="+447700900333", at=T0 + hours(3))]
    )
    assert after.data.identification.status == IdentificationStatus.UNKNOWN
    assert await handle_raw(enricher, sessions, events[:2]) == []


CSV = (
    "customer_id,external_ref,tier,display_name,country,phones,emails,lifetime_value\n"
    "c-1,crm-1,vip,Ivan Petrov,RU,8 (916) 123-45-67|+7 903 765 43 21,ivan@example.com,100.5\n"
    "c-2,crm-2,gold,Bad Tier,GB,,,\n"
    ",crm-3,,Only Ref,GB,07700 900123,,\n"
    "c-4,crm-4,standard,Bad Phone,GB,12ab,,\n"
    ",,standard,No Key,GB,,,\n"
    '"c-5","crm-5","premium","Quoted, Name",DE,030 1234567,"anna@münchen.de",\n'
    "c-6,crm-6,standard,Bad Value,GB,,,lots\n"
    "c-7,crm-1,standard,Steals Ref,GB,,,\n"
)


async def test_csv_import_reports_good_and_bad_rows_and_is_idempotent(
    client: httpx.AsyncClient,
) -> None:
    first = await client.post("/import?format=csv", content=CSV.encode())
    assert first.status_code == 200, first.text
    report = first.json()
    assert (report["imported"], report["updated"], report["rejected"]) == (3, 0, 5)
    reasons = {r["line"]: r["reason"] for r in report["rejections"]}
    assert set(reasons) == {3, 5, 6, 8, 9}
    assert reasons[3].startswith("tier: expected one of")
    assert reasons[5] == "phones[0]: phone unparseable: not a phone number"
    assert reasons[6] == "needs customer_id or external_ref"
    assert "lifetime_value" in reasons[8]
    assert reasons[9] == "external_ref belongs to customer c-1"

    again = await client.post("/import", content=CSV.encode(), headers={"content-type": "text/csv"})
    assert (again.json()["imported"], again.json()["updated"], again.json()["rejected"]) == (
        0,
        3,
        5,
    )
    ivan = (await client.get("/customers/c-1")).json()
    assert ivan["lifetime_value"] == 100.5
    assert [i["value"] for i in ivan["identities"]] == [
        "ivan@example.com",
        "+79037654321",
        "+79161234567",
    ]
    only_ref = (await client.get("/lookup", params={"phone": "+447700900123"})).json()
    assert only_ref["customers"][0]["external_ref"] == "crm-3"
    assert only_ref["customers"][0]["tier"] == "standard"
    anna = (await client.get("/customers/c-5")).json()
    assert anna["display_name"] == "Quoted, Name"
    assert {i["value"] for i in anna["identities"]} == {"+49301234567", "anna@xn--mnchen-3ya.de"}


async def test_jsonl_import_accepts_the_demo_format_and_updates_in_place(
    client: httpx.AsyncClient,
) -> None:
    demo = {
        "customer_id": "cust-000001",
        "external_ref": "crm-00ab12cd34",
        "display_name": "Oliver Smith",
        "country": "GB",
        "tier": "premium",
        "segment": "consumer",
        "language": "en",
        "region": "UK",
        "timezone": "Europe/London",
        "lifetime_value": 2100.5,
        "identities": [
            {"kind": "phone", "value": "+447400123456"},
            {"kind": "email", "value": "oliver.smith@example.com"},
        ],
    }
    lines = [
        json.dumps(demo),
        "",
        "{not json",
        json.dumps({"customer_id": "x", "identities": [{"kind": "fax", "value": "1"}]}),
        json.dumps(["not", "an", "object"]),
        json.dumps(
            demo | {"segment": "smb", "identities": [{"kind": "phone", "value": "+447400123456"}]}
        ),
    ]
    response = await client.post(
        "/import",
        content="\n".join(lines).encode() + b"\n\xff\xfe\n",
        headers={"content-type": "application/x-ndjson"},
    )
    report = response.json()
    assert (report["imported"], report["updated"], report["rejected"]) == (1, 1, 4), report
    assert [r["line"] for r in report["rejections"]] == [3, 4, 5, 7]
    assert report["rejections"][0]["reason"].startswith("not JSON")
    assert report["rejections"][3]["reason"] == "the line is not UTF-8"
    oliver = (await client.get("/customers/cust-000001")).json()
    assert oliver["segment"] == "smb"
    assert oliver["identities"] == [{"kind": "phone", "value": "+447400123456"}]


async def test_the_customer_body_is_documented_and_its_errors_stay_one_message(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/openapi.json")).json()
    for method in ("post", "patch"):
        path = "/customers" if method == "post" else "/customers/{customer_id}"
        body = spec["paths"][path][method]["requestBody"]["content"]["application/json"]
        assert body["schema"]["$ref"] == "#/components/schemas/CustomerIn"
    fields = spec["components"]["schemas"]["CustomerIn"]["properties"]
    assert {"customer_id", "external_ref", "tier", "phones", "emails", "identities"} <= set(fields)

    response = await client.post(
        "/customers", json={"customer_id": "c9", "phones": "+447700900123", "lifetime_value": -5}
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail == (
        "lifetime_value: Input should be greater than or equal to 0; phones: Input should be a valid list"
    )
    assert "7700" not in detail, "the input (a phone) is not echoed"
