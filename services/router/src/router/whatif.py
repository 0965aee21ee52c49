"""What-if replay, the use case: read a period's recorded contacts from the router's
tables (read only: nothing is produced, nothing written) and replay them through a
candidate policy (`router.domain.whatif`, `router.domain.whatif_report`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from router.domain.whatif import RecordedContact, recorded_contact
from router.repository import RecordedTraffic
from switchboard_events import RoutingDecided


class TooManyContacts(ValueError):
    """The period holds more contacts than the replay may take."""


class BadPeriod(ValueError):
    """The period is empty or reversed."""


def check_period(since: datetime, until: datetime) -> None:
    if since.tzinfo is None or until.tzinfo is None:
        raise BadPeriod(
            f"give times with a zone, e.g. 2025-03-03T09:00:00Z (got {since} .. {until})"
        )
    if until <= since:
        raise BadPeriod(f"the period must end after it starts (got {since} .. {until})")


async def recorded_contacts(
    session: AsyncSession, since: datetime, until: datetime, max_contacts: int
) -> list[RecordedContact]:
    """The contacts that arrived in [since, until) (event time, however late the router
    decided them); TooManyContacts beyond `max_contacts`."""
    check_period(since, until)
    contacts: list[RecordedContact] = []
    async for event, status, closed_at in RecordedTraffic(session).recorded(
        since, until, max_contacts + 1
    ):
        if len(contacts) == max_contacts:
            raise TooManyContacts(
                f"{since.isoformat()} .. {until.isoformat()} holds more than {max_contacts}"
                " contacts: choose a shorter period"
            )
        contacts.append(
            recorded_contact(RoutingDecided.model_validate_json(event), status, closed_at)
        )
    return contacts
