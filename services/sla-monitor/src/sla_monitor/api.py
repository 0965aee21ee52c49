"""Admin API under /sla: a contact's clocks, the policy, check and explain, live service level."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, HTTPException, Query
from fastapi.responses import JSONResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sla_monitor import live, scorecard
from sla_monitor.domain.clock import Step, fold
from sla_monitor.domain.compiled import SlaPolicy, load_policy
from sla_monitor.domain.errors import PolicyInvalid
from sla_monitor.domain.explain import explain
from sla_monitor.domain.scorecard import GROUPS
from sla_monitor.domain.status import ContactSla, status
from sla_monitor.repository.reads import PgReadStore
from sla_monitor.repository.scorecard import PgScorecardStore, ScorecardQuery
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


MAX_SCORECARD_DAYS = 92
MAX_SCORECARD_ROWS = 10_000
DEFAULT_GROUPS = "queue,channel,day"


def scorecard_router(
    sessions: async_sessionmaker[AsyncSession],
    fcr_window_s: float,
    clock: Clock = SYSTEM_CLOCK,
) -> APIRouter:
    router = APIRouter(prefix="/sla", tags=["sla"])

    @router.get("/scorecard", dependencies=[require(Scope.STATE_READ)], response_model=None)
    async def scorecard_report(
        since: Annotated[
            datetime | None, Query(alias="from", description="arrived from (default: 7 days ago)")
        ] = None,
        until: Annotated[
            datetime | None, Query(alias="to", description="arrived before (default: now)")
        ] = None,
        group_by: Annotated[
            str, Query(description=f"comma-separated, of: {', '.join(GROUPS)}")
        ] = DEFAULT_GROUPS,
        format: Annotated[Literal["json", "csv"], Query()] = "json",
        limit: Annotated[int, Query(ge=1, le=MAX_SCORECARD_ROWS)] = 1000,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any] | Response:
        """Cost and quality of the contacts arrived in [from, to), per group (see README)."""
        groups = [g.strip() for g in group_by.split(",") if g.strip()]
        unknown = sorted(set(groups) - set(GROUPS))
        if unknown or len(set(groups)) != len(groups):
            raise HTTPException(
                422, f"group_by: give distinct names of {', '.join(GROUPS)}; got {group_by!r}"
            )
        now = clock.now()
        end = until or now
        start = since or end - timedelta(days=7)
        if start.tzinfo is None or end.tzinfo is None:
            raise HTTPException(422, "from and to need a UTC offset, e.g. 2026-12-01T00:00:00Z")
        if not start < end or end - start > timedelta(days=MAX_SCORECARD_DAYS):
            raise HTTPException(422, f"from must be before to, at most {MAX_SCORECARD_DAYS} days")
        async with sessions() as session:
            rows = await PgScorecardStore(session).scorecard(
                ScorecardQuery(start, end, groups, now, fcr_window_s, limit + 1, offset)
            )
        more, rows = len(rows) > limit, rows[:limit]
        if format == "csv":
            return Response(scorecard.as_csv(groups, rows), media_type="text/csv")
        return {
            "from": start.isoformat(),
            "to": end.isoformat(),
            "group_by": groups,
            "fcr_window_s": fcr_window_s,
            "rows": [scorecard.as_json(r) for r in rows],
            "next_offset": offset + limit if more else None,
        }

    return router
