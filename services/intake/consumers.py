"""Intake's Kafka consumers: every change of a case is written to the timeline of its reports."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import service
from shared.contracts.dispatch import AssignmentSignedIn, CaseOpened, CaseResolved, CaseRoundStarted
from shared.contracts.followup import CaseClosed, CaseReopened
from shared.events import Envelope
from shared.runtime import ServiceRuntime, Subscription


def subscriptions(runtime: ServiceRuntime) -> Sequence[Subscription]:
    topics = runtime.settings.topics

    async def on_opened(session: AsyncSession, env: Envelope, e: CaseOpened) -> None:
        await service.link_case(session, case_id=e.case_id, report_ids=e.report_ids, at=env.occurred_at)

    def status(name: str):  # type: ignore[no-untyped-def]
        async def handle(session: AsyncSession, env: Envelope, e: object) -> None:
            await service.set_case_status(session, case_id=env.correlation_id, status=name, at=env.occurred_at)

        return handle

    return [
        Subscription(
            topics.cases,
            runtime.consumer(
                {
                    CaseOpened: on_opened,
                    AssignmentSignedIn: status("signed_in"),
                    CaseResolved: status("resolved"),
                    CaseRoundStarted: status("dispatched"),
                }
            ),
        ),
        Subscription(
            topics.followup,
            runtime.consumer({CaseClosed: status("closed"), CaseReopened: status("reopened")}),
        ),
    ]
