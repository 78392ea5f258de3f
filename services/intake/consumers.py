"""Intake's Kafka consumers: every change of a case is written to the timeline of its reports (all the reports of
a grouped incident hear it) and queued for the 12345 platform an order came from."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Set
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import domain, feedback, texts
from services.intake.models import token_versions
from services.intake.states import ReportStatus, TimelineEntry
from shared import revocations
from shared.consumer import Handler, NotYet, PermanentError
from shared.contracts.dispatch import (
    AccountTokensRevoked,
    AssignmentReturned,
    AssignmentSignedIn,
    CaseAssigned,
    CaseEscalated,
    CaseOpened,
    CaseResolved,
    CaseRetiered,
    CaseRoundStarted,
    ExtensionDecided,
)
from shared.contracts.followup import CaseClosed, CaseReopened
from shared.events import Envelope, EventPayload
from shared.runtime import Handlers
from shared.topics import Topics

# A handler of a fact about a case returns how many of intake's reports belong to the case (0: none do).
CaseHandler = Callable[[AsyncSession, Envelope, Any], Awaitable[int]]


def _status(name: ReportStatus, calls_back: Set[str]) -> CaseHandler:
    async def handle(session: AsyncSession, env: Envelope, e: Any) -> int:
        return await feedback.set_case_status(
            session, case_id=e.case_id, status=name, at=env.occurred_at, calls_back=calls_back
        )

    return handle


def _on_opened(calls_back: Set[str]) -> CaseHandler:
    async def handle(session: AsyncSession, env: Envelope, e: CaseOpened) -> int:
        return await feedback.link_case(
            session, case_id=e.case_id, report_ids=e.report_ids, at=env.occurred_at, calls_back=calls_back
        )

    return handle


async def _on_assigned(session: AsyncSession, _: Envelope, e: CaseAssigned) -> int:
    return await feedback.note_assignment(
        session, case_id=e.case_id, unit_id=e.unit_id, unit_type=e.unit_type, resolve_due=e.resolve_due
    )


async def _on_returned(session: AsyncSession, _: Envelope, e: AssignmentReturned) -> int:
    return await feedback.note_assignment(
        session, case_id=e.case_id, unit_id=e.unit_id, unit_type=e.unit_type, resolve_due=None, removed=True
    )


async def _on_extension(session: AsyncSession, _: Envelope, e: ExtensionDecided) -> int:
    if not e.approved:  # nothing moved; still a fact about a known case
        return await feedback.note_extension(session, case_id=e.case_id, resolve_due=None)
    return await feedback.note_extension(session, case_id=e.case_id, resolve_due=e.resolve_due)


async def _on_retiered(session: AsyncSession, _: Envelope, e: CaseRetiered) -> int:
    return await feedback.withdraw_units(session, case_id=e.case_id)


def _on_escalated(calls_back: Set[str]) -> CaseHandler:
    async def handle(session: AsyncSession, env: Envelope, e: CaseEscalated) -> int:
        return await feedback.set_case_status(
            session,
            case_id=e.case_id,
            status=TimelineEntry.ESCALATED,
            at=env.occurred_at,
            calls_back=calls_back,
            note=domain.ESCALATION_NOTES.get(e.level.value, domain.STATUS_NOTES[TimelineEntry.ESCALATED]),
            status_text=texts.HOTLINE_ESCALATION_TEXT.get(e.level.value),
            moves=False,
        )

    return handle


def _of_a_known_case(handle: CaseHandler, *, may_overtake: bool = False) -> Handler:
    """A fact about a case none of intake's reports belongs to (for CaseOpened: none of the reports it names) can be
    told to nobody: it goes to the dead-letter topic rather than vanish. Such a case was opened from a complaint
    intake never sent, or the event is forged. A verdict may overtake its case's CaseOpened (they travel on two
    topics, e.g. while intake catches up after a restart): it waits for it (``consumer_wait_seconds``) first."""

    async def checked(session: AsyncSession, env: Envelope, e: Any) -> None:
        if not await handle(session, env, e):
            if may_overtake:
                raise NotYet("unknown_case", "no report of intake belongs to this case yet")
            raise PermanentError("unknown_case", "no report of intake belongs to this case")

    return checked


def handlers(topics: Topics, calls_back: Set[str]) -> Handlers:
    """``calls_back``: the 12345 integrations with a callback URL (the others are queued nothing)."""
    by_topic: dict[str, dict[type[EventPayload], CaseHandler]] = {
        topics.cases: {
            CaseOpened: _on_opened(calls_back),
            CaseAssigned: _on_assigned,
            AssignmentReturned: _on_returned,
            CaseRetiered: _on_retiered,
            AssignmentSignedIn: _status(ReportStatus.SIGNED_IN, calls_back),
            CaseResolved: _status(ReportStatus.RESOLVED, calls_back),
            CaseRoundStarted: _status(ReportStatus.DISPATCHED, calls_back),
            CaseEscalated: _on_escalated(calls_back),
            ExtensionDecided: _on_extension,
        },
        topics.followup: {
            CaseClosed: _status(ReportStatus.CLOSED, calls_back),
            CaseReopened: _status(ReportStatus.REOPENED, calls_back),
        },
    }
    checked = {
        topic: {model: _of_a_known_case(fn, may_overtake=topic == topics.followup) for model, fn in of.items()}
        for topic, of in by_topic.items()
    }
    # Not about a case: the token versions of console accounts (shared.revocations).
    checked[topics.cases][AccountTokensRevoked] = revocations.handler(token_versions)
    return checked
