"""The notifier's handlers of the cases topic (dispatch's own events) and the verdicts topic (follow-up's): each
event makes its rows in the transaction that records the event in the inbox, so a redelivered event makes none twice
and a crash between the two loses none."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.notify import queue, routing
from services.dispatch.notify.routing import Notice
from services.dispatch.notify.settings import NotifySettings
from shared.clock import TimeSource
from shared.contracts.dispatch import CaseAssigned, CaseEscalated, CaseHurried, CaseSupplemented
from shared.contracts.followup import SpotCheckScheduled, VisitOverdue, VisitRecorded, VisitScheduled
from shared.events import Envelope, EventPayload

Handler = Callable[[AsyncSession, Envelope, Any], Awaitable[None]]


def handlers(settings: NotifySettings, clock: TimeSource) -> tuple[dict[type[EventPayload], Handler], ...]:
    """(handlers of the cases topic, handlers of the verdicts topic)."""

    def telling(route: Callable[[AsyncSession, Any], Awaitable[Notice]]) -> Handler:
        async def handle(session: AsyncSession, envelope: Envelope, event: Any) -> None:
            notice = await route(session, event)
            at = envelope.occurred_at
            await queue.enqueue(session, notice, event_id=str(envelope.event_id), event_at=at, now=clock.now())

        return handle

    async def visit_due(session: AsyncSession, event: VisitScheduled) -> Notice:
        return await routing.visit_scheduled(session, event, hours_before=settings.visit_reminder_hours)

    async def overdue(_: AsyncSession, event: VisitOverdue) -> Notice:
        return routing.visit_overdue(event)

    async def visited(session: AsyncSession, _: Envelope, event: VisitRecorded) -> None:
        await queue.cancel_reminders(session, visit_id=event.visit_id)

    cases: dict[type[EventPayload], Handler] = {
        CaseAssigned: telling(routing.assigned),
        CaseEscalated: telling(routing.escalated),
        CaseHurried: telling(routing.hurried),
        CaseSupplemented: telling(routing.supplemented),
    }
    verdicts: dict[type[EventPayload], Handler] = {
        VisitScheduled: telling(visit_due),
        VisitOverdue: telling(overdue),
        VisitRecorded: visited,
        SpotCheckScheduled: telling(routing.spot_check),
    }
    return cases, verdicts
