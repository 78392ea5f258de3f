"""Follow-up's Kafka consumers: a resolved round owes a return visit."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.followup import service
from services.followup.config import FollowupSettings
from shared.contracts.dispatch import CaseResolved
from shared.events import Envelope
from shared.outbox import OutboxWriter
from shared.runtime import Handlers


def handlers(settings: FollowupSettings, writer: OutboxWriter) -> Handlers:
    within = timedelta(hours=settings.visit_within_hours)

    async def on_resolved(session: AsyncSession, _: Envelope, e: CaseResolved) -> None:
        await service.schedule(session, writer, resolved=e, within=within)

    return {settings.topics.cases: {CaseResolved: on_resolved}}
