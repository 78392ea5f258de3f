"""Follow-up's Kafka consumers: a resolved round owes a return visit, a withdrawn case (撤单) owes none any more;
every other fact of dispatch and intake is recorded for the scorecards, the assessment and the reports."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.followup import facts, scheduling
from services.followup.config import FollowupSettings
from services.followup.models import token_versions
from shared import revocations
from shared.contracts.dispatch import (
    AccountTokensRevoked,
    AssignmentArrived,
    AssignmentResolved,
    AssignmentReturned,
    AssignmentSignedIn,
    CaseAssigned,
    CaseEscalated,
    CaseHurried,
    CaseOpened,
    CaseResolved,
    CaseRetiered,
    CaseRoundStarted,
    CaseWithdrawn,
    ExtensionDecided,
)
from shared.contracts.intake import ComplaintGrouped, ComplaintReported, HouseholdVisited
from shared.events import Envelope
from shared.outbox import OutboxWriter
from shared.runtime import Handlers


def handlers(settings: FollowupSettings, writer: OutboxWriter) -> Handlers:
    async def on_resolved(session: AsyncSession, _: Envelope, e: CaseResolved) -> None:
        await scheduling.schedule(session, writer, resolved=e, settings=settings)

    async def on_opened(session: AsyncSession, _: Envelope, e: CaseOpened) -> None:
        await facts.case_opened(session, e)

    async def on_assigned(session: AsyncSession, env: Envelope, e: CaseAssigned) -> None:
        # CaseAssigned carries the deadlines, not the moment of dispatch: that is the event's own time.
        await facts.assigned(session, e, env.occurred_at)

    async def on_signed_in(session: AsyncSession, _: Envelope, e: AssignmentSignedIn) -> None:
        await facts.signed_in(session, e)

    async def on_arrived(session: AsyncSession, _: Envelope, e: AssignmentArrived) -> None:
        await facts.arrived(session, e)

    async def on_unit_resolved(session: AsyncSession, _: Envelope, e: AssignmentResolved) -> None:
        await facts.resolved(session, e)

    async def on_returned(session: AsyncSession, _: Envelope, e: AssignmentReturned) -> None:
        await facts.returned(session, e)

    async def on_extension(session: AsyncSession, _: Envelope, e: ExtensionDecided) -> None:
        await facts.extension_decided(session, e)

    async def on_escalated(session: AsyncSession, env: Envelope, e: CaseEscalated) -> None:
        await facts.escalated(session, e, env.event_id)

    async def on_retiered(session: AsyncSession, _: Envelope, e: CaseRetiered) -> None:
        await facts.retiered(session, e)

    async def on_round(session: AsyncSession, _: Envelope, e: CaseRoundStarted) -> None:
        await facts.round_started(session, e)

    async def on_withdrawn(session: AsyncSession, _: Envelope, e: CaseWithdrawn) -> None:
        await scheduling.withdraw(session, writer, withdrawn=e)

    async def on_hurried(session: AsyncSession, env: Envelope, e: CaseHurried) -> None:
        await facts.hurried(session, e, env.event_id)

    async def on_complaint(session: AsyncSession, _: Envelope, e: ComplaintReported) -> None:
        await facts.complaint(session, e)

    async def on_grouped(session: AsyncSession, _: Envelope, e: ComplaintGrouped) -> None:
        await facts.complaint_grouped(session, e)

    async def on_household(session: AsyncSession, _: Envelope, e: HouseholdVisited) -> None:
        await facts.household_visited(session, e)

    topics = settings.topics
    return {
        topics.cases: {
            CaseOpened: on_opened,
            CaseAssigned: on_assigned,
            AssignmentSignedIn: on_signed_in,
            AssignmentArrived: on_arrived,
            AssignmentResolved: on_unit_resolved,
            AssignmentReturned: on_returned,
            ExtensionDecided: on_extension,
            CaseEscalated: on_escalated,
            CaseRetiered: on_retiered,
            CaseRoundStarted: on_round,
            CaseResolved: on_resolved,
            CaseWithdrawn: on_withdrawn,
            CaseHurried: on_hurried,
            AccountTokensRevoked: revocations.handler(token_versions),
        },
        topics.complaints: {
            ComplaintReported: on_complaint,
            ComplaintGrouped: on_grouped,
            HouseholdVisited: on_household,
        },
    }
