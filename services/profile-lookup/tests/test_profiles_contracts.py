"""A customer's SLA contract: set by the import and the admin API, carried by enrichment."""

from __future__ import annotations

import httpx
import pytest
from profiles_support import handle
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from profile_lookup.service import Enricher
from switchboard_events.testing import inbound

pytestmark = pytest.mark.integration

Sessions = async_sessionmaker[AsyncSession]

CSV = """customer_id,tier,country,phones,contract_id
c-gold,vip,GB,07700 900111,gold-2026
c-plain,standard,GB,07700 900222,
c-bad,standard,GB,07700 900333,gold 2026
"""


async def test_an_imported_contract_reaches_the_enriched_event_and_the_api_can_change_it(
    client: httpx.AsyncClient, enricher: Enricher, sessions: Sessions
) -> None:
    report = (await client.post("/import?format=csv", content=CSV.encode())).json()
    assert (report["imported"], report["rejected"]) == (2, 1), report
    (bad,) = report["rejections"]
    assert (bad["line"], bad["reason"].split(":")[0]) == (4, "contract_id")
    assert (await client.get("/customers/c-gold")).json()["contract_id"] == "gold-2026"
    assert (await client.get("/customers/c-plain")).json()["contract_id"] is None

    gold, plain = await handle(
        enricher,
        sessions,
        [inbound("k-1", phone="+44 7700 900111"), inbound("k-2", phone="+44 7700 900222")],
    )
    assert gold.data.customer is not None
    assert plain.data.customer is not None
    assert (gold.data.customer.customer_id, gold.data.customer.contract_id) == (
        "c-gold",
        "gold-2026",
    )
    assert plain.data.customer.contract_id is None

    patched = await client.patch("/customers/c-plain", json={"contract_id": "silver"})
    assert patched.status_code == 200, patched.text
    assert patched.json()["contract_id"] == "silver"
    kept = await client.patch("/customers/c-plain", json={"segment": "smb"})
    assert kept.json()["contract_id"] == "silver", "absent fields are kept"
    cleared = await client.patch("/customers/c-plain", json={"contract_id": None})
    assert cleared.json()["contract_id"] is None
    refused = await client.patch("/customers/c-plain", json={"contract_id": "x" * 65})
    assert refused.status_code == 422
    assert "contract_id" in refused.text
    (later,) = await handle(enricher, sessions, [inbound("k-3", phone="+44 7700 900222")])
    assert later.data.customer is not None
    assert later.data.customer.contract_id is None


async def test_a_merge_keeps_the_survivor_s_contract_or_takes_the_other_s(
    client: httpx.AsyncClient,
) -> None:
    for body in (
        {"customer_id": "a", "tier": "standard", "contract_id": "gold-2026"},
        {"customer_id": "b", "tier": "standard"},
        {"customer_id": "c", "tier": "standard", "contract_id": "silver"},
    ):
        assert (await client.post("/customers", json=body)).status_code == 201
    merged = await client.post("/customers/b/merge", json={"source_customer_id": "a"})
    assert merged.status_code == 200, merged.text
    assert (await client.get("/customers/b")).json()["contract_id"] == "gold-2026"
    await client.post("/customers/c/merge", json={"source_customer_id": "b"})
    assert (await client.get("/customers/c")).json()["contract_id"] == "silver"
