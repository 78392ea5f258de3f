"""Intake's Kafka consumers: every change of a case is written to the timeline of its reports (all the reports of
a grouped incident hear it) and queued for the 12345 platform an order came from."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import domain, feedback
from shared.contracts.dispatch import (
    AssignmentReturned,
    AssignmentSignedIn,
    CaseAssigned,
    CaseEscalated,
    CaseOpened,
    CaseResolved,
    CaseRoundStarted,
)
from shared.contracts.followup import CaseClosed, CaseReopened
from shared.events import Envelope
from shared.runtime import Handlers
from shared.topics import Topics


def _status(name: str) -> Callable[[AsyncSession, Envelope, Any], Awaitable[None]]:
    async def handle(session: AsyncSession, env: Envelope, e: Any) -> None:
        await feedback.set_case_status(session, case_id=e.case_id, status=name, at=env.occurred_at)

    return handle


async def _on_opened(session: AsyncSession, env: Envelope, e: CaseOpened) -> None:
    await feedback.link_case(session, case_id=e.case_id, report_ids=e.report_ids, at=env.occurred_at)


async def _on_assigned(session: AsyncSession, _: Envelope, e: CaseAssigned) -> None:
    await feedback.note_assignment(session, case_id=e.case_id, unit_id=e.unit_id, resolve_due=e.resolve_due)


async def _on_returned(session: AsyncSession, _: Envelope, e: AssignmentReturned) -> None:
    await feedback.note_assignment(session, case_id=e.case_id, unit_id=e.unit_id, resolve_due=None, removed=True)


async def _on_escalated(session: AsyncSession, env: Envelope, e: CaseEscalated) -> None:
    await feedback.set_case_status(
        session,
        case_id=e.case_id,
        status="escalated",
        at=env.occurred_at,
        note=domain.ESCALATION_NOTES.get(e.level.value, domain.STATUS_NOTES["escalated"]),
        moves=False,
    )


def handlers(topics: Topics) -> Handlers:
    return {
        topics.cases: {
            CaseOpened: _on_opened,
            CaseAssigned: _on_assigned,
            AssignmentReturned: _on_returned,
            AssignmentSignedIn: _status("signed_in"),
            CaseResolved: _status("resolved"),
            CaseRoundStarted: _status("dispatched"),
            CaseEscalated: _on_escalated,
        },
        topics.followup: {CaseClosed: _status("closed"), CaseReopened: _status("reopened")},
    }
