"""Dispatch's Kafka consumers: complaints open cases (a grouped complaint joins its incident's case), 12345's
operations on its orders act on them (withdraw, supplement, hurry); return-visit verdicts close or reopen them."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch import incidents, opening, operations, verdicts
from services.dispatch.notify import consumers as notifications
from services.dispatch.notify.settings import NotifySettings
from shared.clock import TimeSource
from shared.consumer import Handler, PermanentError
from shared.contracts.followup import CaseClosed, CaseReopened
from shared.contracts.intake import (
    ComplaintGrouped,
    ComplaintReported,
    ReportHurried,
    ReportSupplemented,
    ReportWithdrawn,
)
from shared.errors import NotFound
from shared.events import Envelope, EventPayload
from shared.outbox import OutboxWriter
from shared.runtime import Handlers
from shared.topics import Topics

# The dead letter's reason names no id of the message: the message itself is kept whole beside it.
UNKNOWN_CASE = "no case of dispatch has the case_id of this event"


def handlers(topics: Topics, writer: OutboxWriter, clock: TimeSource, notify: NotifySettings | None = None) -> Handlers:
    """Dispatch's handlers by topic; with ``notify`` (enabled), the notifier's too: its own cases topic and the
    verdicts it does not act on (services.dispatch.notify.consumers)."""

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

    # 12345's operations on its orders (撤单, 补充诉求, 催单): services.dispatch.operations.
    async def on_withdrawn(session: AsyncSession, _: Envelope, event: ReportWithdrawn) -> None:
        await operations.withdraw(session, writer, e=event, at=clock.now())

    async def on_supplemented(session: AsyncSession, _: Envelope, event: ReportSupplemented) -> None:
        await operations.supplement(session, writer, e=event, at=clock.now())

    async def on_hurried(session: AsyncSession, _: Envelope, event: ReportHurried) -> None:
        await operations.hurry(session, writer, e=event, at=clock.now())

    handled: dict[str, Mapping[type[EventPayload], Handler]] = {
        topics.complaints: {
            ComplaintReported: on_complaint,
            ComplaintGrouped: on_grouped,
            ReportWithdrawn: on_withdrawn,
            ReportSupplemented: on_supplemented,
            ReportHurried: on_hurried,
        },
        topics.followup: {CaseReopened: on_reopened, CaseClosed: on_closed},
    }
    if notify is not None and notify.enabled:
        on_cases, on_verdicts = notifications.handlers(notify, clock)
        handled[topics.cases] = on_cases
        both = set(handled[topics.followup]) & set(on_verdicts)
        if both:  # one handler per event type and topic: a merge would drop one of them silently
            raise RuntimeError(f"dispatch and its notifier would both handle {sorted(t.__name__ for t in both)}")
        handled[topics.followup] = {**handled[topics.followup], **on_verdicts}
    return handled
