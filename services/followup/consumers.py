"""Follow-up's Kafka consumers: a resolved round owes a return visit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.followup import service
from services.followup.config import FollowupSettings
from shared.contracts.dispatch import CaseResolved
from shared.events import Envelope
from shared.outbox import OutboxWriter
from shared.runtime import ServiceRuntime, Subscription


def subscriptions(runtime: ServiceRuntime, writer: OutboxWriter) -> Sequence[Subscription]:
    settings = runtime.settings
    assert isinstance(settings, FollowupSettings)
    within = timedelta(hours=settings.visit_within_hours)

    async def on_resolved(session: AsyncSession, _: Envelope, e: CaseResolved) -> None:
        await service.schedule(session, writer, resolved=e, within=within)

    return [Subscription(settings.topics.cases, runtime.consumer({CaseResolved: on_resolved}))]
