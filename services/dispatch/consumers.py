"""Dispatch's Kafka consumers: complaints open cases (a grouped complaint joins its incident's case); return-visit
verdicts close or reopen them."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch import incidents, opening, verdicts
from shared.clock import TimeSource
from shared.consumer import PermanentError
from shared.contracts.followup import CaseClosed, CaseReopened
from shared.contracts.intake import ComplaintGrouped, ComplaintReported
from shared.errors import NotFound
from shared.events import Envelope
from shared.outbox import OutboxWriter
from shared.runtime import Handlers
from shared.topics import Topics

# The dead letter's reason names no id of the message: the message itself is kept whole beside it.
UNKNOWN_CASE = "no case of dispatch has the case_id of this event"


def handlers(topics: Topics, writer: OutboxWriter, clock: TimeSource) -> Handlers:
    async def on_complaint(session: AsyncSession, _: Envelope, event: ComplaintReported) -> None:
        await opening.open_case(session, writer, complaint=event, at=clock.now())

    async def on_grouped(session: AsyncSession, _: Envelope, event: ComplaintGrouped) -> None:
        # One that overtook its lead's ComplaintReported is kept for the opening (services.dispatch.incidents).
        await incidents.join(session, writer, grouped=event, at=clock.now())

    async def on_reopened(session: AsyncSession, _: Envelope, event: CaseReopened) -> None:
        try:
            await verdicts.start_round(session, writer, reopened=event, at=clock.now())
        except NotFound as exc:
            raise PermanentError("unknown_case", UNKNOWN_CASE) from exc

    async def on_closed(session: AsyncSession, _: Envelope, event: CaseClosed) -> None:
        try:
            await verdicts.close(session, writer, closed=event)
        except NotFound as exc:
            raise PermanentError("unknown_case", UNKNOWN_CASE) from exc

    return {
        topics.complaints: {ComplaintReported: on_complaint, ComplaintGrouped: on_grouped},
        topics.followup: {CaseReopened: on_reopened, CaseClosed: on_closed},
    }
