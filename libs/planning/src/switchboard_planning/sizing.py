"""Sizing a new team from volume alone, the way support managers size one.

A plan gives, per channel, the monthly volume (or customers x contacts per customer per
month x the incident rate), the handle time and the SLA target; and, for the team, its
opening hours, an agent's contract hours, shrinkage and costs. The busiest hour is the
average open hour times a peak factor. Out of the in-house hours the volume can go to
a vendor: the plan prices both ways.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from switchboard_planning.staffing import Staffing, Target, agents_needed

WEEKS_PER_MONTH = 52 / 12
HOURS_PER_WEEK = 7 * 24


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChannelPlan(Strict):
    contacts_per_month: float | None = Field(None, ge=0)
    customers: int | None = Field(None, ge=0)
    contacts_per_customer_per_month: float | None = Field(None, ge=0)
    incident_rate: float = Field(1.0, ge=0, description="share of those that become a contact")
    handle_s: float = Field(gt=0)
    concurrency: int = Field(1, ge=1, description="contacts an agent handles at once (chat)")
    target_share: float = Field(gt=0, lt=1)
    target_s: float = Field(ge=0)
    patience_s: float | None = Field(None, gt=0, description="callers' mean patience: Erlang A")

    @model_validator(mode="after")
    def _volume(self) -> Self:
        by_customers = self.customers is not None and self.contacts_per_customer_per_month
        if (self.contacts_per_month is None) == (not by_customers):
            raise ValueError(
                "give contacts_per_month, or customers and contacts_per_customer_per_month"
            )
        return self

    @property
    def monthly(self) -> float:
        if self.contacts_per_month is not None:
            return self.contacts_per_month * self.incident_rate
        assert self.customers is not None
        assert self.contacts_per_customer_per_month is not None
        return self.customers * self.contacts_per_customer_per_month * self.incident_rate


class TeamPlan(Strict):
    channels: dict[str, ChannelPlan]
    open_hours_per_week: float = Field(gt=0, le=HOURS_PER_WEEK)
    out_of_hours_share: float = Field(
        0.0, ge=0, lt=1, description="share of the volume arriving while the team is closed"
    )
    peak_factor: float = Field(1.3, ge=1, description="busiest open hour / average open hour")
    contract_hours_per_week: float = Field(37.5, gt=0)
    shrinkage: float = Field(0.3, ge=0, lt=1)
    max_occupancy: float = Field(0.85, gt=0, le=1)
    cost_per_agent_month: float = Field(0, ge=0)
    vendor_cost_per_contact: float = Field(0, ge=0)


@dataclass(frozen=True)
class ChannelSizing:
    channel: str
    contacts_per_month: float
    in_house_contacts: float
    peak: Staffing
    fte: float
    """Full-time agents to cover the open hours at peak staffing, shrinkage included."""


@dataclass(frozen=True)
class TeamSizing:
    channels: list[ChannelSizing]
    fte: float
    in_house_cost_per_month: float
    vendor_contacts_per_month: float
    vendor_cost_per_month: float
    around_the_clock_fte: float
    """What covering the closed hours in-house would take instead (average staffing)."""
    around_the_clock_extra_cost: float


def size(plan: TeamPlan) -> TeamSizing:
    sized = []
    around_the_clock = 0.0
    for name, channel in plan.channels.items():
        target = Target(channel.target_share, channel.target_s, plan.max_occupancy, plan.shrinkage)
        in_house = channel.monthly * (1 - plan.out_of_hours_share)
        open_hours = plan.open_hours_per_week * WEEKS_PER_MONTH
        peak_rate = in_house / open_hours * plan.peak_factor
        peak = agents_needed(
            peak_rate, channel.handle_s, target, channel.concurrency, channel.patience_s
        )
        fte = peak.scheduled * plan.open_hours_per_week / plan.contract_hours_per_week
        sized.append(ChannelSizing(name, channel.monthly, in_house, peak, fte))
        closed_hours = (HOURS_PER_WEEK - plan.open_hours_per_week) * WEEKS_PER_MONTH
        if plan.out_of_hours_share and closed_hours:
            night = agents_needed(
                channel.monthly * plan.out_of_hours_share / closed_hours,
                channel.handle_s,
                target,
                channel.concurrency,
            )
            around_the_clock += (
                night.scheduled
                * (HOURS_PER_WEEK - plan.open_hours_per_week)
                / plan.contract_hours_per_week
            )
    fte = sum(c.fte for c in sized)
    vendor_contacts = sum(c.contacts_per_month - c.in_house_contacts for c in sized)
    return TeamSizing(
        channels=sized,
        fte=fte,
        in_house_cost_per_month=math.ceil(fte) * plan.cost_per_agent_month,
        vendor_contacts_per_month=vendor_contacts,
        vendor_cost_per_month=vendor_contacts * plan.vendor_cost_per_contact,
        around_the_clock_fte=around_the_clock,
        around_the_clock_extra_cost=math.ceil(around_the_clock) * plan.cost_per_agent_month,
    )
