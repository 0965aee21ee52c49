"""The pieces of the audit trail and of the bulk-read defences every service shares: rate
limits per principal on a moved clock, page cursors and bounds, audit records."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import Depends, FastAPI, HTTPException

from switchboard_events import AUDIT_DECODER, AuditAction, AuditOutcome, encode
from switchboard_events.audit import MAX_AUDITED_CUSTOMERS
from switchboard_events.testing import T0
from switchboard_runtime import ratelimit
from switchboard_runtime.audit import AuditRecord, actor_name, entries
from switchboard_runtime.auth import (
    Authenticator,
    AuthSettings,
    OidcSettings,
    Principal,
    Scope,
    current_principal,
    holds,
    require,
)
from switchboard_runtime.pagination import (
    MAX_PAGE_SIZE,
    PageRequest,
    decode_cursor,
    encode_cursor,
    page_of,
    pagination,
)
from switchboard_runtime.ratelimit import RateLimiter, RateLimitSettings, too_many_requests
from switchboard_runtime.testing import ManualClock, auth


def test_a_burst_is_allowed_then_one_request_per_refill_and_keys_are_apart() -> None:
    clock = ManualClock()
    limiter = RateLimiter(RateLimitSettings(per_minute=60, burst=3), clock)

    assert [limiter.take("crm") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("crm") == pytest.approx(1.0), "one more a second"
    assert limiter.take("ops") == 0.0, "another token has its own bucket"
    clock.advance(0.5)
    assert limiter.take("crm") == pytest.approx(0.5)
    clock.advance(0.5)
    assert limiter.take("crm") == 0.0
    assert limiter.take("crm") > 0
    clock.advance(3600)
    assert [limiter.take("crm") for _ in range(4)][-1] > 0, "idling refills the burst, no more"


def test_a_full_table_forgets_the_idle_callers_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ratelimit, "MAX_KEYS", 2)
    clock = ManualClock()
    limiter = RateLimiter(RateLimitSettings(per_minute=60, burst=1), clock)
    limiter.take("idle")
    clock.advance(10)
    limiter.take("busy")
    limiter.take("new")  # the table is full: "idle" has refilled and is forgotten
    assert limiter.take("busy") > 0, "a caller still limited is not forgotten"


def test_a_refusal_is_a_429_with_whole_seconds_to_wait() -> None:
    refused = too_many_requests(0.2, "customer reads")
    assert refused.status_code == 429
    assert refused.headers == {"Retry-After": "1"}
    assert "customer reads" in refused.detail
    assert too_many_requests(2.01, "x").headers == {"Retry-After": "3"}


def test_cursors_round_trip_and_a_forged_one_is_a_400() -> None:
    assert decode_cursor(encode_cursor(["cust-9", 3])) == ["cust-9", 3]
    for forged in ("not base64 !", encode_cursor([]), "eyJhIjogMX0"):
        with pytest.raises(HTTPException) as refused:
            decode_cursor(forged)
        assert refused.value.status_code == 400
    with pytest.raises(HTTPException):
        PageRequest(10, ["a string"]).key(int)
    assert PageRequest(10, [7]).key(int) == 7
    assert PageRequest(10, None).key(str) is None


def test_a_cursor_of_several_keys_keeps_a_datetime_exactly() -> None:
    at = T0.replace(microsecond=123456)
    page = PageRequest(10, decode_cursor(encode_cursor([at, "c-1"])))
    assert page.keys(datetime, str) == (at, "c-1")
    assert PageRequest(10, None).keys(datetime, str) is None
    for forged in (["c-1"], [at.isoformat(), 7], ["yesterday", "c-1"], ["2025-03-03T09:00", "c"]):
        with pytest.raises(HTTPException) as refused:
            PageRequest(10, forged).keys(datetime, str)
        assert refused.value.status_code == 400, forged


def test_a_page_says_whether_another_follows() -> None:
    assert page_of([1, 2, 3], 3, lambda n: [n]) == ([1, 2, 3], None)
    items, cursor = page_of([1, 2, 3, 4], 3, lambda n: [n])
    assert items == [1, 2, 3]
    assert cursor is not None
    assert decode_cursor(cursor) == [3]


async def test_a_page_larger_than_the_maximum_is_refused() -> None:
    app = FastAPI()

    @app.get("/items")
    async def items(page: Annotated[PageRequest, Depends(pagination())]) -> dict[str, int]:
        return {"limit": page.limit}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://pages.test") as client:
        assert (await client.get("/items")).json() == {"limit": 20}
        assert (await client.get(f"/items?limit={MAX_PAGE_SIZE}")).status_code == 200
        assert (await client.get(f"/items?limit={MAX_PAGE_SIZE + 1}")).status_code == 422
        assert (await client.get("/items?limit=0")).status_code == 422
        assert (await client.get("/items?cursor=bm9wZQ")).status_code == 400


async def test_a_route_names_the_principal_its_scope_authenticated() -> None:
    app = FastAPI()
    app.state.authenticator = auth.authenticator()

    @app.get("/mine", dependencies=[require(Scope.CUSTOMERS_READ)])
    async def mine(who: Annotated[Principal, Depends(current_principal)]) -> str:
        return who.name

    @app.get("/unguarded")
    async def unguarded(who: Annotated[Principal, Depends(current_principal)]) -> str:
        return who.name

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://who.test", headers=auth.HEADERS
    ) as client:
        assert (await client.get("/mine")).json() == "test-all"
        assert (await client.get("/unguarded")).status_code == 500, "no scope, nobody to name"


async def test_a_jwt_caller_is_named_by_its_subject(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [public | {"kid": "k1"}]}))
    oidc = OidcSettings(issuer="https://id.test/", audience="switchboard", jwks_file=jwks)
    app = FastAPI()
    app.state.authenticator = Authenticator(AuthSettings(oidc=oidc))

    @app.get("/mine", dependencies=[require(Scope.CUSTOMERS_READ)])
    async def mine(who: Annotated[Principal, Depends(current_principal)]) -> str:
        return who.name

    now = int(time.time())
    claims = {"iss": "https://id.test/", "aud": "switchboard", "sub": "agent-7", "exp": now + 60}
    token = jwt.encode(
        claims | {"scope": "customers:read"}, key, algorithm="RS256", headers={"kid": "k1"}
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://who.test") as client:
        answer = await client.get("/mine", headers={"Authorization": f"Bearer {token}"})
    assert answer.json() == "agent-7"


async def test_a_broader_scope_includes_the_narrower_one() -> None:
    reader, reader_bearer = auth.scoped_token(frozenset({Scope.CUSTOMERS_READ}), "reader")
    writer, writer_bearer = auth.scoped_token(frozenset({Scope.CUSTOMERS_WRITE}), "writer")
    app = FastAPI()
    app.state.authenticator = auth.authenticator(reader, writer)

    @app.get("/identify", dependencies=[require(Scope.CUSTOMERS_IDENTIFY)])
    async def identify() -> str:
        return "ok"

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://scopes.test") as client:
        allowed = await client.get(
            "/identify", headers={"Authorization": f"Bearer {reader_bearer}"}
        )
        refused = await client.get(
            "/identify", headers={"Authorization": f"Bearer {writer_bearer}"}
        )
    assert allowed.status_code == 200
    assert refused.status_code == 403
    assert holds(Principal("r", frozenset({"customers:read"})), Scope.CUSTOMERS_IDENTIFY)
    assert not holds(Principal("i", frozenset({"customers:identify"})), Scope.CUSTOMERS_READ)


def test_records_are_split_to_fit_an_event_and_one_is_kept_when_nobody_is_concerned() -> None:
    ids = [f"c-{n}" for n in range(MAX_AUDITED_CUSTOMERS + 1)]
    split = entries("ops", AuditAction.CUSTOMER_IMPORT, ids + ids[:5], AuditOutcome.OK, T0)
    assert [len(e.customer_ids) for e in split] == [MAX_AUDITED_CUSTOMERS, 1]
    [nobody] = entries("ops", AuditAction.CUSTOMER_LOOKUP, [], AuditOutcome.OK, T0)
    assert nobody.customer_ids == ()


def test_an_actor_is_printable_and_bounded_whatever_the_jwt_says() -> None:
    assert actor_name("ops-2026") == "ops-2026"
    assert actor_name("a\nb\x00c") == "a?b?c"
    assert len(actor_name("x" * 500)) == 128


def test_a_record_becomes_the_same_event_however_often_it_is_published() -> None:
    record = AuditRecord(
        audit_id=41,
        at=T0,
        actor="ops",
        action=AuditAction.CUSTOMER_ERASE,
        customer_ids=["cust-1"],
        outcome=AuditOutcome.OK,
    )
    first = record.event("switchboard/profile-lookup", T0)
    again = record.event("switchboard/profile-lookup", T0.replace(hour=10))
    assert first.id == again.id
    assert first.subject == "41"
    assert AUDIT_DECODER.decode(encode(first)) == first
    assert first.partition_key() == "ops"
