"""The admin API: the policy in force, checking a policy, explain, queues, a contact's
decisions, staffing, and the what-if replay of a candidate policy."""

# No `from __future__ import annotations`: FastAPI reads the route signatures, which name
# `repository`, a dependency local to `make_router`.

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from router.domain import explain
from router.domain.engine import Snapshot
from router.domain.policy import PolicyInvalid, load_policy
from router.domain.staffing import QueueStaffing
from router.domain.whatif_report import what_if
from router.policies import compile_policy
from router.repository import PostgresRoutingRepository, RoutingRepository
from router.service import Router
from router.staffing import Staffing
from router.whatif import BadPeriod, TooManyContacts, recorded_contacts
from switchboard_events import ENRICHED_DECODER, InvalidEvent
from switchboard_runtime.auth import Scope, require
from switchboard_runtime.policies import policy_version

WHATIF_MAX_DAYS = 31
WHATIF_MAX_CONTACTS = 20_000
"""An admin request replays at most this many contacts (a few seconds of CPU, in a thread
beside the consumer); `python -m router whatif` has no such bound."""


class Refusal(BaseModel):
    version: str
    at: datetime
    problems: list[str]


class PolicyInForce(BaseModel):
    version: str
    path: str
    loaded_at: datetime
    last_refused: Refusal | None
    policy: dict[str, Any]


class PolicyCheck(BaseModel):
    valid: bool
    version: str | None = None
    problems: list[str] | None = None


class Explanation(BaseModel):
    policy_version: str
    at: datetime
    steps: list[str]
    decision: dict[str, Any]


class QueueState(BaseModel):
    id: str
    kind: str
    vendor: str | None
    open_now: bool
    calendar: str
    agents: int
    open_contacts: dict[str, int]
    occupancy_percent: float | None
    estimated_wait_seconds: dict[str, float | None]
    data_visibility: str


class Queues(BaseModel):
    policy_version: str
    at: datetime
    queues: list[QueueState]


class StaffingView(BaseModel):
    policy_version: str
    at: datetime
    window_seconds: float
    queues: list[QueueStaffing]
    """Per queue: agents on shift, agents needed for the window's arrivals, the gap."""


class WhatIfRequest(BaseModel):
    policy: str = Field(description="the candidate policy, as YAML text")
    start: AwareDatetime = Field(alias="from")
    end: AwareDatetime = Field(alias="to")
    seed: int = 0


class ContactDecisions(BaseModel):
    contact_id: str
    decisions: list[dict[str, Any]]
    """Each decision exactly as produced (the `routing.decisions` event)."""


def make_router(
    router: Router,
    sessions: async_sessionmaker[AsyncSession],
    recent_limit: int,
    staffing: Staffing,
) -> APIRouter:
    """The admin routes of `router` (its policy in force and its clock), on `sessions`."""
    api = APIRouter(prefix="/admin", tags=["admin"])

    async def repository() -> AsyncIterator[RoutingRepository]:
        async with sessions() as session:
            yield PostgresRoutingRepository(session)

    async def snapshot(store: RoutingRepository, at: datetime | None = None) -> Snapshot:
        now = router.clock.now()
        try:
            when = explain.at_or_now(at, now)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        load = await store.open_load(now - router.open_contact_ttl)
        return Snapshot(router.policies.current, when, load)

    @api.get("/policy", dependencies=[require(Scope.STATE_READ)])
    async def current_policy() -> PolicyInForce:
        """The policy in force: version, file, when it was loaded, the last refused change."""
        holder = router.policies
        refusal = holder.last_refusal
        return PolicyInForce(
            version=holder.current.version,
            path=str(holder.path),
            loaded_at=holder.loaded_at,
            last_refused=None
            if refusal is None
            else Refusal(version=refusal.version, at=refusal.at, problems=refusal.problems),
            policy=holder.current.spec.model_dump(mode="json", exclude_none=True),
        )

    @api.post(
        "/policy/check",
        dependencies=[require(Scope.POLICY_CHECK)],
        response_model=PolicyCheck,
        response_model_exclude_none=True,
        responses={422: {"model": PolicyCheck, "description": "the problems, each by its path"}},
    )
    async def check_policy(
        content: Annotated[str, Body(media_type="application/yaml")],
    ) -> PolicyCheck | JSONResponse:
        """Validate a policy (the YAML text as the body) without applying it."""
        try:
            load_policy(content)
        except PolicyInvalid as exc:
            refused = PolicyCheck(valid=False, problems=exc.problems)
            return JSONResponse(refused.model_dump(exclude_none=True), status_code=422)
        return PolicyCheck(valid=True, version=policy_version(content.encode()))

    @api.post("/explain", dependencies=[require(Scope.POLICY_CHECK)])
    async def explain_event(
        store: Annotated[RoutingRepository, Depends(repository)],
        event: Annotated[dict[str, Any], Body(description="a contact.enriched event")],
        at: Annotated[datetime | None, Query(description="decide as of this time")] = None,
    ) -> Explanation:
        """The decision the policy in force would make for this event now (or at `at`), and why."""
        try:
            enriched = ENRICHED_DECODER.decode(json.dumps(event).encode())
        except InvalidEvent as exc:
            raise HTTPException(422, exc.reason) from None
        snap = await snapshot(store, at)
        result = explain.explain(snap.policy, enriched, snap, router.pseudonym_key)
        return Explanation.model_validate(result)

    @api.get("/queues", dependencies=[require(Scope.STATE_READ)])
    async def queues(store: Annotated[RoutingRepository, Depends(repository)]) -> Queues:
        """Every queue with its live load (all instances), occupancy and estimated wait."""
        snap = await snapshot(store)
        return Queues.model_validate(
            {
                "policy_version": snap.policy.version,
                "at": snap.now,
                "queues": explain.queues(snap.policy, snap),
            }
        )

    @api.get("/staffing", dependencies=[require(Scope.STATE_READ)])
    async def staffing_now(
        store: Annotated[RoutingRepository, Depends(repository)],
    ) -> StaffingView:
        """Agents needed per queue for the arrivals of the last window (Erlang C at the
        policy's target share and first-response times), against the agents on shift."""
        return StaffingView(
            policy_version=router.policies.current.version,
            at=router.clock.now(),
            window_seconds=staffing.window_s,
            queues=await staffing.now(store),
        )

    @api.post(
        "/whatif",
        dependencies=[require(Scope.POLICY_CHECK)],
        responses={422: {"description": "an invalid policy or period, or too many contacts"}},
    )
    async def whatif(request: WhatIfRequest) -> dict[str, Any]:
        """Replay the period's recorded contacts through the candidate policy, offline
        (nothing produced, nothing stored), against the policy in force: the report as JSON.
        At most 31 days and 20,000 contacts; `python -m router whatif` takes more."""
        if request.end - request.start > timedelta(days=WHATIF_MAX_DAYS):
            raise HTTPException(422, f"the period may span at most {WHATIF_MAX_DAYS} days")
        try:
            content = request.policy.encode()
            candidate = compile_policy(content, policy_version(content))
        except PolicyInvalid as exc:
            raise HTTPException(422, {"problems": exc.problems}) from None
        try:
            async with sessions() as session:
                contacts = await recorded_contacts(
                    session, request.start, request.end, WHATIF_MAX_CONTACTS
                )
        except (BadPeriod, TooManyContacts) as exc:
            raise HTTPException(422, str(exc)) from None
        baseline = router.policies.current
        period = (request.start, request.end)
        return await asyncio.to_thread(what_if, contacts, baseline, candidate, period, request.seed)

    @api.get("/contacts/{contact_id}/decisions", dependencies=[require(Scope.STATE_READ)])
    async def contact_decisions(
        store: Annotated[RoutingRepository, Depends(repository)],
        contact_id: str,
        limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
    ) -> ContactDecisions:
        """The contact's most recent decisions, newest first, exactly as produced."""
        events = await store.recent_decisions(contact_id, limit or recent_limit)
        return ContactDecisions(contact_id=contact_id, decisions=[json.loads(e) for e in events])

    return api
