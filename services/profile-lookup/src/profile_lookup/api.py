"""The admin API: customers, identities, lookups, merges, erasure and bulk import.

Every error is a 4xx with `{"detail": "<what was wrong and what was expected>"}`:
400 bad request, 404 not found, 409 conflict with the stored state, 410 erased,
413 too large, 422 invalid input. Phones and emails are normalised exactly as the
consumer normalises them, so a lookup here finds what the consumer would find.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Annotated, Any, Literal, NoReturn

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from profile_lookup import repository as repo
from profile_lookup.config import ProfilesSettings
from profile_lookup.domain.customers import (
    CustomerIn,
    CustomerRecord,
    RecordError,
    validate_record,
)
from profile_lookup.domain.normalise import (
    EMAIL,
    PHONE,
    Invalid,
    Withheld,
    known_region,
    normalise_email,
    normalise_phone,
)
from profile_lookup.importer import Importer, ImportFormat
from switchboard_runtime.auth import Scope, require

CustomerId = Annotated[
    str, Path(min_length=1, max_length=128, pattern=r"^[!-~]+$", description="Customer id.")
]
SPOOL_BYTES = 16 * 1024 * 1024


class IdentityBody(BaseModel):
    kind: Literal["phone", "email"]
    value: str = Field(min_length=1, max_length=512, description="As spelled; normalised here.")
    country: str | None = Field(
        default=None, description="Region for a nationally written phone (default: the service's)."
    )


class MergeBody(BaseModel):
    source_customer_id: str = Field(
        min_length=1, max_length=128, pattern=r"^[!-~]+$", description="Merged away."
    )


class _MessageRoute(APIRoute):
    """A route whose request validation errors read `{"detail": "field: what is wrong"}`.

    FastAPI's own 422 lists every error with the input that failed, which may be a phone
    or an email; this keeps the service's one-message form and leaves the input out.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                raise HTTPException(422, _message(exc.errors())) from None

        return route


def _message(errors: Sequence[Any]) -> str:
    parts = []
    for err in errors[:5]:
        loc = [str(p) for p in err["loc"]]
        where = ".".join(loc[1:] if loc and loc[0] in ("body", "query", "path") else loc)
        parts.append(f"{where or 'body'}: {err['msg']}")
    return "; ".join(parts)


class Admin:
    """The admin API's dependencies; bound to the database once the service starts."""

    def __init__(self, settings: ProfilesSettings) -> None:
        self.settings = settings
        self._sessions: async_sessionmaker[AsyncSession] | None = None

    def bind(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        if self._sessions is None:
            raise HTTPException(503, "the service is starting: no database yet")
        return self._sessions

    def normalise(self, kind: str, value: str, country: str | None = None) -> str:
        region = self.settings.default_region
        if country is not None:
            region = known_region(country) or _fail(422, f"country: unknown region {country!r}")
        result = normalise_phone(value, region) if kind == PHONE else normalise_email(value)
        if isinstance(result, Withheld):
            _fail(422, "phone: a withheld-number placeholder, not a number")
        if isinstance(result, Invalid):
            _fail(422, f"{kind} unparseable: {result.reason}")
        assert isinstance(result, str)
        return result

    def record(self, body: CustomerIn, *, need_key: bool) -> CustomerRecord:
        """The validated record of a body; only the fields it gave (absent ones stay)."""
        try:
            return validate_record(
                body.model_dump(exclude_unset=True),
                default_region=self.settings.default_region,
                tiers=self.settings.tiers,
                need_key=need_key,
            )
        except RecordError as exc:
            _fail(422, str(exc))


def _fail(code: int, detail: str) -> NoReturn:
    raise HTTPException(code, detail)


async def _view(session: AsyncSession, customer_id: str) -> dict[str, Any]:
    rows = await repo.get_customers(session, [customer_id])
    if customer_id not in rows:
        erased = await repo.erasure_of(session, customer_id)
        if erased:
            _fail(410, f"customer {customer_id} was erased at {erased['erased_at'].isoformat()}")
        _fail(404, f"no customer {customer_id}")
    identities = await repo.identities_of(session, [customer_id])
    return rows[customer_id] | {
        "identities": [{"kind": k, "value": v} for k, v in identities.get(customer_id, [])]
    }


def make_router(admin: Admin) -> APIRouter:
    router = APIRouter(tags=["customers"], route_class=_MessageRoute)

    @router.get("/lookup", dependencies=[require(Scope.CUSTOMERS_READ)])
    async def lookup(
        phone: Annotated[str | None, Query(max_length=64)] = None,
        email: Annotated[str | None, Query(max_length=512)] = None,
        country: Annotated[str | None, Query(max_length=8)] = None,
    ) -> dict[str, Any]:
        """Customers holding a phone or an email, spelled any way a channel would."""
        if (phone is None) == (email is None):
            _fail(400, "give exactly one of the query parameters phone and email")
        kind, raw = (PHONE, phone) if phone is not None else (EMAIL, email)
        assert raw is not None
        value = admin.normalise(kind, raw, country)
        async with admin.sessions() as session:
            ids = await repo.customers_with_identity(session, kind, value)
            found = await repo.get_customers(session, ids)
        state = "unknown" if not ids else "known" if len(ids) == 1 else "ambiguous"
        return {
            "kind": kind,
            "normalised": value,
            "status": state,
            "customers": [found[i] for i in ids if i in found],
        }

    @router.post(
        "/customers",
        status_code=status.HTTP_201_CREATED,
        dependencies=[require(Scope.CUSTOMERS_WRITE)],
    )
    async def create_customer(body: CustomerIn) -> dict[str, Any]:
        """Create a customer; `customer_id` is generated when not given."""
        record = admin.record(body, need_key=False)
        if record.customer_id is None and record.external_ref is None:
            customer_id = f"cust-{uuid.uuid4()}"
        else:
            customer_id = record.new_id()
        async with admin.sessions() as session, session.begin():
            taken = await repo.get_customers(
                session, [customer_id], [record.external_ref] if record.external_ref else []
            )
            if customer_id in taken:
                _fail(409, f"customer {customer_id} already exists")
            if taken:
                _fail(409, "external_ref already belongs to another customer")
            row = {"customer_id": customer_id, "tier": admin.settings.tiers[0]} | dict(
                record.fields
            )
            row["tier"] = row["tier"] or admin.settings.tiers[0]
            await _write(session, row, record.identities)
            return await _view(session, customer_id)

    @router.get("/customers/{customer_id}", dependencies=[require(Scope.CUSTOMERS_READ)])
    async def get_customer(customer_id: CustomerId) -> dict[str, Any]:
        async with admin.sessions() as session:
            return await _view(session, customer_id)

    @router.patch("/customers/{customer_id}", dependencies=[require(Scope.CUSTOMERS_WRITE)])
    async def update_customer(customer_id: CustomerId, body: CustomerIn) -> dict[str, Any]:
        """Change the given fields; identities given replace the customer's set."""
        if body.customer_id not in (None, customer_id):
            _fail(422, "customer_id cannot be changed")
        record = admin.record(body.model_copy(update={"customer_id": None}), need_key=False)
        async with admin.sessions() as session, session.begin():
            rows = await repo.lock_customers(session, [customer_id])
            current = rows.get(customer_id) or await _view(session, customer_id)
            if current.get("merged_into"):
                _fail(409, f"customer {customer_id} was merged into {current['merged_into']}")
            if record.external_ref and record.external_ref != current["external_ref"]:
                owners = await repo.get_customers(session, [], [record.external_ref])
                if owners:
                    _fail(409, "external_ref already belongs to another customer")
            row = {k: current[k] for k in repo.CUSTOMER_COLUMNS} | dict(record.fields)
            row["tier"] = row["tier"] or admin.settings.tiers[0]
            await _write(session, row, record.identities)
            return await _view(session, customer_id)

    @router.delete("/customers/{customer_id}", dependencies=[require(Scope.CUSTOMERS_WRITE)])
    async def delete_customer(customer_id: CustomerId) -> dict[str, Any]:
        """Delete a customer and its identities; its past contacts stay, unlinked."""
        async with admin.sessions() as session, session.begin():
            await _existing(session, customer_id)
            return await repo.remove_customer(session, customer_id, erase=False)

    @router.post("/customers/{customer_id}/erase", dependencies=[require(Scope.CUSTOMERS_ERASE)])
    async def erase_customer(customer_id: CustomerId) -> dict[str, Any]:
        """Erase a customer's personal data: profile, identities and the stored copies of
        their contacts. Anonymised contact records stay, so history counts survive."""
        async with admin.sessions() as session, session.begin():
            await _existing(session, customer_id)
            return await repo.remove_customer(session, customer_id, erase=True)

    @router.post(
        "/customers/{customer_id}/identities",
        status_code=status.HTTP_201_CREATED,
        dependencies=[require(Scope.CUSTOMERS_WRITE)],
    )
    async def add_identity(customer_id: CustomerId, body: IdentityBody) -> dict[str, str]:
        value = admin.normalise(body.kind, body.value, body.country)
        async with admin.sessions() as session, session.begin():
            await _existing(session, customer_id)
            added = await repo.add_identities(session, {customer_id: [(body.kind, value)]})
            if not added:
                _fail(409, f"customer {customer_id} already has this {body.kind}")
        return {"customer_id": customer_id, "kind": body.kind, "value": value}

    @router.delete(
        "/customers/{customer_id}/identities",
        status_code=status.HTTP_204_NO_CONTENT,
        dependencies=[require(Scope.CUSTOMERS_WRITE)],
    )
    async def remove_identity(
        customer_id: CustomerId,
        kind: Annotated[Literal["phone", "email"], Query()],
        value: Annotated[str, Query(min_length=1, max_length=512)],
        country: Annotated[str | None, Query(max_length=8)] = None,
    ) -> Response:
        normalised = admin.normalise(kind, value, country)
        async with admin.sessions() as session, session.begin():
            await _existing(session, customer_id)
            if not await repo.remove_identity(session, customer_id, kind, normalised):
                _fail(404, f"customer {customer_id} has no such {kind}")
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.post("/customers/{customer_id}/merge", dependencies=[require(Scope.CUSTOMERS_MERGE)])
    async def merge_customers(customer_id: CustomerId, body: MergeBody) -> dict[str, Any]:
        """Merge `source_customer_id` into this customer: identities and history move,
        the source's CRM id resolves here from now on, and the merge is recorded."""
        source = body.source_customer_id
        if source == customer_id:
            _fail(409, "cannot merge a customer into itself")
        async with admin.sessions() as session, session.begin():
            rows = await repo.lock_customers(session, [source, customer_id])
            for cid in (customer_id, source):
                if cid not in rows:
                    await _view(session, cid)  # 404 or 410
                if rows[cid]["merged_into"]:
                    _fail(409, f"customer {cid} was already merged into {rows[cid]['merged_into']}")
            return await repo.merge(session, source, customer_id)

    @router.get("/customers/{customer_id}/contacts", dependencies=[require(Scope.CUSTOMERS_READ)])
    async def recent_contacts(
        customer_id: CustomerId, limit: Annotated[int, Query(ge=1, le=500)] = 20
    ) -> dict[str, Any]:
        """The customer's most recent contacts, newest first."""
        async with admin.sessions() as session:
            await _view(session, customer_id)
            contacts = await repo.recent_contacts(session, customer_id, limit)
        return {"customer_id": customer_id, "contacts": contacts}

    @router.post("/import", dependencies=[require(Scope.CUSTOMERS_IMPORT)])
    async def import_customers(
        request: Request,
        format: Annotated[Literal["csv", "jsonl"] | None, Query()] = None,
    ) -> dict[str, Any]:
        """Bulk upsert from a CSV or JSON Lines body (streamed; `?format=` or Content-Type)."""
        fmt = format or _format_of(request.headers.get("content-type", ""))
        limit = admin.settings.import_max_bytes
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
            size = 0
            async for chunk in _body(request):
                size += len(chunk)
                if size > limit:
                    _fail(413, f"the body is over {limit} bytes; use the CLI for larger files")
                spool.write(chunk)
            spool.seek(0)
            importer = Importer(
                admin.sessions,
                default_region=admin.settings.default_region,
                tiers=admin.settings.tiers,
                chunk_rows=admin.settings.import_chunk_rows,
            )
            report = await importer.run(spool, ImportFormat(fmt))
        return report.as_dict()

    return router


async def _body(request: Request) -> AsyncIterator[bytes]:
    async for chunk in request.stream():
        yield chunk


def _format_of(content_type: str) -> str:
    media = content_type.split(";")[0].strip().lower()
    if media in ("text/csv", "application/csv"):
        return "csv"
    if media in ("application/x-ndjson", "application/jsonl", "application/x-jsonlines"):
        return "jsonl"
    _fail(
        415,
        "say the format: ?format=csv or ?format=jsonl, or Content-Type text/csv or "
        "application/x-ndjson",
    )


async def _existing(session: AsyncSession, customer_id: str) -> dict[str, Any]:
    rows = await repo.lock_customers(session, [customer_id])
    if customer_id not in rows:
        await _view(session, customer_id)  # raises 404 or 410
    row = rows[customer_id]
    if row["merged_into"]:
        _fail(409, f"customer {customer_id} was merged into {row['merged_into']}")
    return row


async def _write(
    session: AsyncSession,
    row: dict[str, Any],
    identities: tuple[tuple[str, str], ...] | None,
) -> None:
    try:
        async with session.begin_nested():
            await repo.upsert_customers(session, [row])
            if identities is not None:
                await repo.replace_identities(session, {row["customer_id"]: identities})
    except IntegrityError:
        _fail(409, "conflicts with another customer (customer_id or external_ref)")
