"""The one way a change is written: ``apply`` turns what happened (``assignment.Changed``) into its timeline row, the
timers that stop, the metrics (after the transaction commits) and the fact on the cases topic (outbox), in that
order, in the caller's transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.assignment import Changed
from services.dispatch.clocks import kinds
from services.dispatch.models import timers
from services.dispatch.timeline import timeline
from shared import timers as durable
from shared.db import after_commit
from shared.outbox import OutboxWriter


async def apply(session: AsyncSession, writer: OutboxWriter, *changes: Changed) -> None:
    for change in changes:
        if change.stops is not None:
            ref, clocks = change.stops
            await durable.cancel(session, timers, ref=ref, kinds=kinds(*clocks))
        timeline(session, change.case_id, change.happened, change.actor, change.at, **change.detail)
        for action in change.metrics:
            after_commit(session, action)
        if change.event is not None:
            await writer.emit(session, change.event, key=change.case_id, at=change.at)
