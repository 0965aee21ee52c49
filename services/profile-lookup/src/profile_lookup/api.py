"""The admin API: customers, identities, lookups, merges, erasure and bulk import.

Endpoints only translate HTTP: the rules live in the customers service (`customers.py`),
which the import shares, and the bodies in `schemas.py`. Every error is a 4xx with
`{"detail": "<what was wrong and what was expected>"}`: 400 bad request, 404 not found,
409 conflict with the stored state, 410 erased, 413 too large, 415 unknown format,
422 invalid input. Phones and emails are normalised exactly as the consumer normalises
them, so a lookup here finds what the consumer would find.

Every route acts as the caller its scope authenticated (`acting`), so the audit trail
names them. Reads of customer data are rate-limited per caller (`reads`): over the
rate, a 429 with `Retry-After`, recorded in the trail as refused. Lists come in pages
of at most `MAX_PAGE_SIZE` (`limit` and `cursor`).
"""

# No `from __future__ import annotations`: FastAPI must evaluate each route's annotations,
# and the customers dependency they name is local to make_router.
import tempfile
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal, NoReturn

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from profile_lookup import metrics
from profile_lookup.customers import Conflict, CustomerError, Customers, Erased, NotFound
from profile_lookup.domain.customers import CustomerIn, RecordError
from profile_lookup.domain.normalise import EMAIL, PHONE
from profile_lookup.importer import Importer, ImportFormat
from profile_lookup.schemas import (
    Customer,
    Erasure,
    IdentityAdded,
    IdentityBody,
    ImportResult,
    Lookup,
    Merge,
    MergeBody,
    RecentContacts,
    Removal,
)
from switchboard_events import AuditAction, AuditOutcome
from switchboard_runtime.auth import Principal, Scope, current_principal, holds, require
from switchboard_runtime.pagination import PageRequest, pagination
from switchboard_runtime.ratelimit import RateLimiter, too_many_requests

CustomerId = Annotated[
    str, Path(min_length=1, max_length=128, pattern=r"^[!-~]+$", description="Customer id.")
]
SPOOL_BYTES = 16 * 1024 * 1024
Page = Annotated[PageRequest, Depends(pagination())]
LIMITED: dict[int | str, dict[str, Any]] = {
    429: {
        "description": "over the caller's rate of customer reads; `Retry-After` says when to retry",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}
_STATUS: dict[type[Exception], int] = {
    RecordError: 422,
    NotFound: 404,
    Erased: 410,
    Conflict: 409,
}


class MessageRoute(APIRoute):
    """A route whose errors read `{"detail": "<one message>"}`.

    FastAPI's own 422 lists every error with the input that failed, which may be a phone
    or an email; this keeps the service's one-message form and leaves the input out. The
    customers service's errors get their status here, once.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                raise HTTPException(422, _message(exc.errors())) from None
            except (RecordError, CustomerError) as exc:
                raise HTTPException(_STATUS[type(exc)], str(exc)) from None

        return route


def _message(errors: Sequence[Any]) -> str:
    parts = []
    for err in errors[:5]:
        loc = [str(p) for p in err["loc"]]
        where = ".".join(loc[1:] if loc and loc[0] in ("body", "query", "path") else loc)
        parts.append(f"{where or 'body'}: {err['msg']}")
    return "; ".join(parts)


def _fail(code: int, detail: str) -> NoReturn:
    raise HTTPException(code, detail)


def make_router(
    service: Callable[[], Customers],
    *,
    chunk_rows: int,
    import_max_bytes: int,
    reads: RateLimiter,
) -> APIRouter:
    """The admin routes; `service` is the FastAPI dependency that gives the customers
    service (tests may override it), `reads` the limiter of customer reads per caller."""
    router = APIRouter(tags=["customers"], route_class=MessageRoute)

    def acting(
        customers: Annotated[Customers, Depends(service)],
        principal: Annotated[Principal, Depends(current_principal)],
    ) -> Customers:
        return customers.acting_as(principal.name)

    async def allow_read(customers: Customers, action: AuditAction, ids: list[str]) -> None:
        wait = reads.take(customers.actor)
        if wait:
            metrics.READS_RATE_LIMITED.inc()
            await customers.record_refusal(action, ids, AuditOutcome.RATE_LIMITED)
            raise too_many_requests(wait, "customer reads")

    # The customers service acting as the caller; local, as it closes over `service`.
    Acting = Annotated[Customers, Depends(acting)]  # noqa: N806

    @router.get("/lookup", dependencies=[require(Scope.CUSTOMERS_IDENTIFY)], responses=LIMITED)
    async def lookup(
        customers: Acting,
        principal: Annotated[Principal, Depends(current_principal)],
        page: Page,
        phone: Annotated[str | None, Query(max_length=64)] = None,
        email: Annotated[str | None, Query(max_length=512)] = None,
        country: Annotated[str | None, Query(max_length=8)] = None,
    ) -> Lookup:
        """Customers holding a phone or an email, spelled any way a channel would, a page at
        a time: their ids, and with `customers:read` their profiles (never their other
        phones and emails)."""
        await allow_read(customers, AuditAction.CUSTOMER_LOOKUP, [])
        if phone is not None and email is None:
            kind, raw = PHONE, phone
        elif email is not None and phone is None:
            kind, raw = EMAIL, email
        else:
            _fail(400, "give exactly one of the query parameters phone and email")
        return await customers.lookup(
            kind,
            raw,
            country,
            limit=page.limit,
            after=page.key(str),
            profiles=holds(principal, Scope.CUSTOMERS_READ),
        )

    @router.post(
        "/customers",
        status_code=status.HTTP_201_CREATED,
        dependencies=[require(Scope.CUSTOMERS_WRITE)],
    )
    async def create_customer(customers: Acting, body: CustomerIn) -> Customer:
        """Create a customer; `customer_id` is generated when not given."""
        return await customers.create(body)

    @router.get(
        "/customers/{customer_id}",
        dependencies=[require(Scope.CUSTOMERS_READ)],
        responses=LIMITED,
    )
    async def get_customer(customers: Acting, customer_id: CustomerId) -> Customer:
        await allow_read(customers, AuditAction.CUSTOMER_READ, [customer_id])
        return await customers.get(customer_id)

    @router.patch("/customers/{customer_id}", dependencies=[require(Scope.CUSTOMERS_WRITE)])
    async def update_customer(
        customers: Acting, customer_id: CustomerId, body: CustomerIn
    ) -> Customer:
        """Change the given fields; identities given replace the customer's set."""
        return await customers.update(customer_id, body)

    @router.delete("/customers/{customer_id}", dependencies=[require(Scope.CUSTOMERS_WRITE)])
    async def delete_customer(customers: Acting, customer_id: CustomerId) -> Removal:
        """Delete a customer and its identities; its past contacts stay, unlinked."""
        return await customers.delete(customer_id)

    @router.post("/customers/{customer_id}/erase", dependencies=[require(Scope.CUSTOMERS_ERASE)])
    async def erase_customer(customers: Acting, customer_id: CustomerId) -> Erasure:
        """Erase a customer's personal data: profile, identities and the stored copies of
        their contacts. Anonymised contact records stay, so history counts survive."""
        return await customers.erase(customer_id)

    @router.post(
        "/customers/{customer_id}/identities",
        status_code=status.HTTP_201_CREATED,
        dependencies=[require(Scope.CUSTOMERS_WRITE)],
    )
    async def add_identity(
        customers: Acting,
        customer_id: CustomerId,
        body: IdentityBody,
    ) -> IdentityAdded:
        return await customers.add_identity(customer_id, body.kind, body.value, body.country)

    @router.delete(
        "/customers/{customer_id}/identities",
        status_code=status.HTTP_204_NO_CONTENT,
        dependencies=[require(Scope.CUSTOMERS_WRITE)],
    )
    async def remove_identity(
        customers: Acting,
        customer_id: CustomerId,
        kind: Annotated[Literal["phone", "email"], Query()],
        value: Annotated[str, Query(min_length=1, max_length=512)],
        country: Annotated[str | None, Query(max_length=8)] = None,
    ) -> Response:
        await customers.remove_identity(customer_id, kind, value, country)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.post("/customers/{customer_id}/merge", dependencies=[require(Scope.CUSTOMERS_MERGE)])
    async def merge_customers(customers: Acting, customer_id: CustomerId, body: MergeBody) -> Merge:
        """Merge `source_customer_id` into this customer: identities and history move,
        the source's CRM id resolves here from now on, and the merge is recorded."""
        return await customers.merge(customer_id, body.source_customer_id)

    @router.get(
        "/customers/{customer_id}/contacts",
        dependencies=[require(Scope.CUSTOMERS_READ)],
        responses=LIMITED,
    )
    async def recent_contacts(
        customers: Acting,
        customer_id: CustomerId,
        page: Page,
    ) -> RecentContacts:
        """The customer's most recent contacts, newest first, a page at a time."""
        await allow_read(customers, AuditAction.CONTACTS_READ, [customer_id])
        after = page.keys(datetime, str)
        return await customers.recent_contacts(customer_id, page.limit, after)

    @router.post("/import", dependencies=[require(Scope.CUSTOMERS_IMPORT)])
    async def import_customers(
        customers: Acting,
        request: Request,
        format: Annotated[Literal["csv", "jsonl"] | None, Query()] = None,
    ) -> ImportResult:
        """Bulk upsert from a CSV or JSON Lines body (streamed; `?format=` or Content-Type)."""
        fmt = format or _format_of(request.headers.get("content-type", ""))
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
            size = 0
            async for chunk in _body(request):
                size += len(chunk)
                if size > import_max_bytes:
                    _fail(
                        413,
                        f"the body is over {import_max_bytes} bytes; use the CLI for larger files",
                    )
                spool.write(chunk)
            spool.seek(0)
            importer = Importer(customers, chunk_rows=chunk_rows)
            report = await importer.run(spool, ImportFormat(fmt))
        return report.result()

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
