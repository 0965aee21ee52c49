"""An in-memory `ScorecardStore`, for the service tests; test_sla_scorecard_store.py runs the
same contract on it and on PostgreSQL."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sla_monitor.domain.clock import Decision
from sla_monitor.domain.scorecard import Fcr, Outcomes, first_contact_resolution
from sla_monitor.repository.scorecard import (
    CsatScore,
    DecisionFacts,
    ScorecardQuery,
    ScorecardRow,
    ScorecardUpdate,
)


@dataclass(frozen=True)
class Card:
    decision: Decision | None = None
    outcomes: Outcomes | None = None
    facts: DecisionFacts | None = None
    csat: CsatScore | None = None


def p90(values: list[float]) -> float | None:
    """PostgreSQL's percentile_cont(0.9): linear between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    pos = 0.9 * (len(ordered) - 1)
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


class FakeScorecardStore:
    def __init__(self) -> None:
        self.cards: dict[str, Card] = {}
        self.breaches: set[tuple[str, str]] = set()
        """(contact, team) of each breach alert fired (the scheduler's table; team '' for
        the SLA's, the receiving team for an OLA's)."""

    def __call__(self, _session: AsyncSession) -> FakeScorecardStore:
        return self

    def _card(self, contact_id: str) -> Card:
        return self.cards.get(contact_id, Card())

    async def record(self, update: ScorecardUpdate) -> None:
        for cid, u in update.per_contact().items():
            card = self._card(cid)
            if u.facts is not None and (
                card.facts is None or u.facts.decided_at > card.facts.decided_at
            ):
                card = replace(card, facts=u.facts)
            if u.clocks is not None:
                card = replace(card, decision=u.clocks[0], outcomes=u.clocks[1])
            if u.score is not None and (card.csat is None or u.score.at > card.csat.at):
                card = replace(card, csat=u.score)
            self.cards[cid] = card

    async def scorecard(self, query: ScorecardQuery) -> list[ScorecardRow]:
        since, until = query.since.timestamp(), query.until.timestamp()
        arrived = [
            (cid, card)
            for cid, card in self.cards.items()
            if card.decision is not None and since <= card.decision.arrived_at < until
        ]
        groups: dict[tuple[str, ...], list[tuple[str, Card]]] = {}
        for cid, card in arrived:
            key = tuple(_value(card, g) for g in query.group_by)
            groups.setdefault(key, []).append((cid, card))
        rows = [
            self._row(
                dict(zip(query.group_by, key, strict=True)), members, query.now, query.fcr_window_s
            )
            for key, members in sorted(groups.items())
        ]
        return rows[query.offset : query.offset + query.limit]

    def _row(
        self, group: dict[str, str], members: list[tuple[str, Card]], now: datetime, window: float
    ) -> ScorecardRow:
        outs = [c.outcomes for _, c in members if c.outcomes is not None]
        costs = [
            c.facts.cost for _, c in members if c.facts is not None and c.facts.cost is not None
        ]
        fr = [o.first_response_s for o in outs if o.first_response_s is not None]
        res = [o.resolution_s for o in outs if o.resolution_s is not None]
        csat = [float(c.csat.score) for _, c in members if c.csat is not None]
        fcrs = [self._fcr(c, now, window) for _, c in members]
        return ScorecardRow(
            group=group,
            contacts=len(members),
            costed=len(costs),
            cost=float(sum(costs)),
            first_responses=len(fr),
            first_response_avg_s=mean(fr),
            first_response_p90_s=p90(fr),
            resolved=sum(1 for o in outs if o.resolved_at is not None),
            resolution_avg_s=mean(res),
            resolution_p90_s=p90(res),
            csat_count=len(csat),
            csat_avg=mean(csat),
            fcr_yes=fcrs.count(Fcr.YES),
            fcr_no=fcrs.count(Fcr.NO),
            fcr_pending=fcrs.count(Fcr.PENDING),
            abandoned=sum(1 for o in outs if o.abandoned),
            breached=sum(1 for cid, _ in members if (cid, "") in self.breaches),
        )

    def _fcr(self, card: Card, now: datetime, window: float) -> Fcr | None:
        facts, decision, outcomes = card.facts, card.decision, card.outcomes
        if facts is None or facts.customer_key is None or decision is None or outcomes is None:
            return None
        later = [
            other.decision.arrived_at
            for other in self.cards.values()
            if other.decision is not None
            and other.facts is not None
            and other.facts.customer_key == facts.customer_key
            and other.facts.contact_type == facts.contact_type
        ]
        return first_contact_resolution(
            decision.arrived_at, outcomes.resolved_at, later, window, now.timestamp()
        )


def _value(card: Card, group: str) -> str:
    d = card.decision
    assert d is not None
    return {
        "queue": d.queue.id,
        "queue_kind": d.queue.kind.value,
        "vendor": d.queue.vendor or "",
        "channel": d.channel.value,
        "day": datetime.fromtimestamp(d.arrived_at, UTC).date().isoformat(),
    }[group]
