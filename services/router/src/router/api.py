"""The admin API: the policy in force, checking a policy, explain, queues, a contact's decisions."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from router import reports, repository
from router.domain.engine import Snapshot
from router.domain.policy import PolicyInvalid, load_policy, policy_version
from router.policy_store import PolicyHolder
from switchboard_events import ENRICHED_DECODER, InvalidEvent
from switchboard_runtime.auth import Scope, require


@dataclass
class AdminState:
    """What the endpoints read; `sessions` is set once the database engine exists."""

    policies: PolicyHolder
    pseudonym_key: bytes
    open_contact_ttl: timedelta
    recent_limit: int
    sessions: async_sessionmaker[AsyncSession] | None = None
    tasks: list[Any] = field(default_factory=list)

    def db(self) -> async_sessionmaker[AsyncSession]:
        if self.sessions is None:
            raise HTTPException(503, "the database is not connected yet")
        return self.sessions

    async def snapshot(self, at: datetime | None = None) -> Snapshot:
        now = datetime.now(UTC)
        async with self.db()() as session:
            load = await repository.open_load(session, now - self.open_contact_ttl)
        try:
            when = reports.at_or_now(at, now)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        return Snapshot(self.policies.current, when, load)


def make_router(state: AdminState) -> APIRouter:
    router = APIRouter(prefix="/admin", tags=["admin"])

    @router.get("/policy", dependencies=[require(Scope.STATE_READ)])
    async def current_policy() -> dict[str, Any]:
        """The policy in force: version, file, when it was loaded, the last refused change."""
        holder = state.policies
        refusal = holder.last_refusal
        return {
            "version": holder.current.version,
            "path": str(holder.path),
            "loaded_at": holder.loaded_at.isoformat(),
            "last_refused": None
            if refusal is None
            else {
                "version": refusal.version,
                "at": refusal.at.isoformat(),
                "problems": refusal.problems,
            },
            "policy": holder.current.spec.model_dump(mode="json", exclude_none=True),
        }

    @router.post("/policy/check", dependencies=[require(Scope.POLICY_CHECK)])
    async def check_policy(
        content: Annotated[str, Body(media_type="application/yaml")],
    ) -> JSONResponse:
        """Validate a policy (the YAML text as the body) without applying it."""
        try:
            load_policy(content)
        except PolicyInvalid as exc:
            return JSONResponse({"valid": False, "problems": exc.problems}, status_code=422)
        return JSONResponse({"valid": True, "version": policy_version(content.encode())})

    @router.post("/explain", dependencies=[require(Scope.POLICY_CHECK)])
    async def explain(
        event: Annotated[dict[str, Any], Body(description="a contact.enriched event")],
        at: Annotated[datetime | None, Query(description="decide as of this time")] = None,
    ) -> dict[str, Any]:
        """The decision the policy in force would make for this event now (or at `at`), and why."""
        try:
            enriched = ENRICHED_DECODER.decode(json.dumps(event).encode())
        except InvalidEvent as exc:
            raise HTTPException(422, exc.reason) from None
        snap = await state.snapshot(at)
        return reports.explain(state.policies.current, enriched, snap, state.pseudonym_key)

    @router.get("/queues", dependencies=[require(Scope.STATE_READ)])
    async def queues() -> dict[str, Any]:
        """Every queue with its live load (all instances), occupancy and estimated wait."""
        snap = await state.snapshot()
        return {
            "policy_version": snap.policy.version,
            "at": snap.now.isoformat(),
            "queues": reports.queues(snap.policy, snap),
        }

    @router.get("/contacts/{contact_id}/decisions", dependencies=[require(Scope.STATE_READ)])
    async def contact_decisions(
        contact_id: str, limit: Annotated[int | None, Query(ge=1, le=1000)] = None
    ) -> dict[str, Any]:
        """The contact's most recent decisions, newest first, exactly as produced."""
        async with state.db()() as session:
            events = await repository.recent_decisions(
                session, contact_id, limit or state.recent_limit
            )
        return {"contact_id": contact_id, "decisions": [json.loads(e) for e in events]}

    return router
