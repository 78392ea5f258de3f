"""Intake's Kafka consumers: every change of a case is written to the timeline of its reports."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import service
from shared.contracts.dispatch import AssignmentSignedIn, CaseOpened, CaseResolved, CaseRoundStarted
from shared.contracts.followup import CaseClosed, CaseReopened
from shared.events import Envelope
from shared.runtime import Handlers
from shared.topics import Topics


def _status(name: str) -> Callable[[AsyncSession, Envelope, object], Awaitable[None]]:
    async def handle(session: AsyncSession, env: Envelope, _: object) -> None:
        await service.set_case_status(session, case_id=env.correlation_id, status=name, at=env.occurred_at)

    return handle


async def _on_opened(session: AsyncSession, env: Envelope, e: CaseOpened) -> None:
    await service.link_case(session, case_id=e.case_id, report_ids=e.report_ids, at=env.occurred_at)


def handlers(topics: Topics) -> Handlers:
    return {
        topics.cases: {
            CaseOpened: _on_opened,
            AssignmentSignedIn: _status("signed_in"),
            CaseResolved: _status("resolved"),
            CaseRoundStarted: _status("dispatched"),
        },
        topics.followup: {CaseClosed: _status("closed"), CaseReopened: _status("reopened")},
    }
