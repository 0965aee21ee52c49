"""Admin API under /sla: a contact's clocks, the policy, check and explain, live service level."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sla_monitor import live
from sla_monitor.domain.clock import Step, fold
from sla_monitor.domain.compiled import SlaPolicy, load_policy
from sla_monitor.domain.errors import PolicyInvalid
from sla_monitor.domain.explain import explain
from sla_monitor.domain.status import ContactSla, status
from sla_monitor.repository.reads import PgReadStore
from sla_monitor.service import decision_of, step_of
from switchboard_events import (
    DECISIONS_DECODER,
    LIFECYCLE_DECODER,
    ContactLifecycle,
    InvalidEvent,
    RoutingDecided,
)
from switchboard_runtime.auth import Scope, require
from switchboard_runtime.clock import SYSTEM_CLOCK, Clock
from switchboard_runtime.policies import PolicyHolder, policy_version


def parse_decision(raw: Any) -> RoutingDecided:
    """A routing decision event from JSON (already parsed or not); InvalidEvent when it is not one."""
    event = DECISIONS_DECODER.decode(raw if isinstance(raw, bytes) else json.dumps(raw).encode())
    assert isinstance(event, RoutingDecided)
    return event


def parse_steps(raws: Sequence[Any]) -> list[Step]:
    steps = []
    for i, raw in enumerate(raws):
        event = LIFECYCLE_DECODER.decode(
            raw if isinstance(raw, bytes) else json.dumps(raw).encode()
        )
        assert isinstance(event, ContactLifecycle)
        row = step_of(event)
        steps.append(Step(event.data.kind, row.at.timestamp(), i, row.to_queue_id))
    return steps


def build_router(
    policies: PolicyHolder[SlaPolicy],
    sessions: async_sessionmaker[AsyncSession],
    windows: Sequence[int],
    clock: Clock = SYSTEM_CLOCK,
) -> APIRouter:
    router = APIRouter(prefix="/sla", tags=["sla"])

    @router.get(
        "/contacts/{contact_id}",
        response_model=ContactSla,
        dependencies=[require(Scope.STATE_READ)],
    )
    async def contact_status(contact_id: str) -> ContactSla:
        """Per target (every cycle): due time, elapsed, remaining and paused time, and each
        alert level with when it is (or was) reached and whether and when it fired."""
        async with sessions() as session:
            reads = PgReadStore(session)
            decision, steps = await reads.load_history(contact_id)
            fired = await reads.fired_alerts(contact_id)
        if decision is None:
            detail = (
                f"no routing decision for contact {contact_id!r} yet"
                f" ({len(steps)} lifecycle step(s) kept until it arrives)"
            )
            raise HTTPException(404, detail)
        return status(fold(decision, steps, policies.current), clock.time(), fired)

    @router.get("/policy", dependencies=[require(Scope.STATE_READ)])
    async def active_policy() -> dict[str, Any]:
        """The active policy: name, version (a hash of the file), where it came from and when
        it was loaded, the last change refused (null once a valid one is applied), its content."""
        policy, refusal = policies.current, policies.last_refusal
        return {
            "name": policy.name,
            "version": policy.version,
            "path": str(policies.path),
            "loaded_at": policies.loaded_at.isoformat(),
            "last_refused": None
            if refusal is None
            else {
                "version": refusal.version,
                "at": refusal.at.isoformat(),
                "problems": refusal.problems,
            },
            "summary": policy.summary(),
            "policy": policy.spec.model_dump(mode="json", exclude_none=True),
        }

    @router.post("/policy/check", dependencies=[require(Scope.POLICY_CHECK)])
    async def check(content: Annotated[str, Body(media_type="application/yaml")]) -> JSONResponse:
        """Validate a policy file (the request body, YAML); 422 lists each problem with its path."""
        try:
            checked = load_policy(content, policy_version(content.encode()))
        except PolicyInvalid as exc:
            return JSONResponse({"valid": False, "problems": exc.problems}, status_code=422)
        return JSONResponse(
            {"valid": True, "version": checked.version, "summary": checked.summary()}
        )

    @router.post("/explain", dependencies=[require(Scope.POLICY_CHECK)])
    async def explain_decision(
        decision: Annotated[dict[str, Any], Body(description="a routing.decided event")],
        lifecycle: Annotated[list[dict[str, Any]], Body(description="lifecycle events")] = [],  # noqa: B006
        at: Annotated[
            datetime | None, Body(description="evaluate clocks at (default: now)")
        ] = None,
    ) -> dict[str, Any]:
        """Which rule sets each target and why, when each level falls due, the clocks at `at`."""
        try:
            event = parse_decision(decision)
            steps = parse_steps(lifecycle)
        except InvalidEvent as exc:
            raise HTTPException(422, exc.reason) from None
        now = at.timestamp() if at is not None else clock.time()
        return explain(policies.current, decision_of(event).decision, steps, now)

    @router.get("/service-level", dependencies=[require(Scope.STATE_READ)])
    async def service_level(
        window: Annotated[list[int] | None, Query(description="window(s) in seconds")] = None,
    ) -> dict[str, Any]:
        """Live service level per queue and channel, and OLA attainment per team, over each window."""
        chosen = window or list(windows)
        if any(w < 60 or w > 7 * 86_400 for w in chosen):
            raise HTTPException(422, "windows must be 60..604800 seconds")
        found = await live.snapshot(sessions, chosen, clock.now())
        return {
            "windows": [live.window_label(w) for w in chosen],
            "rows": live.as_json(found.rows),
            "olas": live.olas_json(found.olas),
        }

    return router
