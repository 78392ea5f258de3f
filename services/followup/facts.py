"""What follow-up learns from dispatch's and intake's events: cases, assignments and their clocks, escalations,
reports and the household-visit ledger. These facts feed the scorecards and reports; every write is
idempotent (the inbox drops redeliveries, and each row is keyed by the fact's own id)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.followup import metrics
from services.followup.models import (
    AssignmentFact,
    CaseFact,
    CaseReport,
    ComplaintFact,
    EscalationFact,
    HurryFact,
    LedgerVisit,
)
from services.followup.states import ASSIGNMENT, CASE, OPEN_ASSIGNMENT, AssignmentStatus, CaseStatus
from shared.consumer import PermanentError
from shared.contracts.common import Location
from shared.contracts.dispatch import (
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
from shared.db import after_commit
from shared.states import values


def _place(loc: Location) -> dict[str, str | None]:
    return {
        "district_id": loc.district_id,
        "street_id": loc.street_id,
        "community_id": loc.community_id,
        "grid_id": loc.grid_id,
        "building_id": loc.building_id,
        "household_id": loc.household_id,
    }


async def link_reports(session: AsyncSession, *, case_id: str, report_ids: list[str]) -> None:
    if report_ids:
        await session.execute(
            insert(CaseReport)
            .values([{"report_id": r, "case_id": case_id} for r in report_ids])
            .on_conflict_do_nothing()
        )


async def case_opened(session: AsyncSession, e: CaseOpened) -> None:
    await session.execute(
        insert(CaseFact)
        .values(
            id=e.case_id,
            category=e.category.value,
            tier=e.tier.value,
            priority_resident=e.priority_resident,
            opened_at=e.opened_at,
            round=1,
            status=CaseStatus.OPEN,
            **_place(e.location),
        )
        .on_conflict_do_nothing()
    )
    await link_reports(session, case_id=e.case_id, report_ids=e.report_ids)


async def case_resolved(session: AsyncSession, e: CaseResolved) -> CaseFact:
    """The round awaits its return visit. A case follow-up has not seen opened is learned from this event."""
    await session.execute(
        insert(CaseFact)
        .values(
            id=e.case_id,
            category=e.category.value,
            tier="unknown",
            priority_resident=False,
            opened_at=e.resolved_at,
            round=e.round,
            status=CaseStatus.RESOLVED,
            **_place(e.location),
        )
        .on_conflict_do_nothing()
    )
    await link_reports(session, case_id=e.case_id, report_ids=e.report_ids)
    case = await session.get(CaseFact, e.case_id, with_for_update=True)
    assert case is not None
    if e.round >= case.round and CASE.allows("resolve", case.status):
        case.round, case.status = e.round, CASE.move("resolve", case.status)
    return case


async def round_started(session: AsyncSession, e: CaseRoundStarted) -> None:
    case = await session.get(CaseFact, e.case_id, with_for_update=True)
    if case is not None and e.round > case.round and CASE.allows("start_round", case.status):
        case.round, case.status, case.closed_at = e.round, CASE.move("start_round", case.status), None


async def case_withdrawn(session: AsyncSession, e: CaseWithdrawn) -> CaseFact | None:
    """撤单: the case counts against no unit from now on (the scorecard and the assessment leave it out) and its
    assignments still open are withdrawn, as dispatch cancelled them. A case follow-up has not seen opened has no
    assignment here to count and no visit to cancel: nothing to record (None). Withdrawn once; a repeat is None."""
    case = await session.get(CaseFact, e.case_id, with_for_update=True)
    if case is None or not CASE.allows("withdraw", case.status):
        return None
    case.status, case.withdrawn_at = CASE.move("withdraw", case.status), e.withdrawn_at
    await session.execute(
        update(AssignmentFact)
        .where(AssignmentFact.case_id == e.case_id, AssignmentFact.status.in_(values(OPEN_ASSIGNMENT)))
        .values(status=AssignmentStatus.WITHDRAWN, withdrawn_at=e.withdrawn_at)
    )
    return case


async def hurried(session: AsyncSession, e: CaseHurried, event_id: UUID) -> None:
    """催单, kept as it came (keyed by the event, so a repeat is no second hurry). Dispatch names the units that
    held an open clock; a case follow-up has not seen yet is recorded all the same (the hurry is the fact)."""
    await session.execute(
        insert(HurryFact)
        .values(
            event_id=event_id,
            case_id=e.case_id,
            report_id=e.report_id,
            hurries=e.hurries,
            unit_ids=list(dict.fromkeys(e.unit_ids)),
            supervised=e.supervised,
            hurried_at=e.hurried_at,
            district_id=e.district_id,
            street_id=e.street_id,
        )
        .on_conflict_do_nothing()
    )


async def retiered(session: AsyncSession, e: CaseRetiered) -> None:
    """Dispatch withdraws the open assignments of the round when the task force re-tiers a case."""
    case = await session.get(CaseFact, e.case_id, with_for_update=True)
    if case is None:
        return
    case.tier = e.tier.value
    await session.execute(
        update(AssignmentFact)
        .where(
            AssignmentFact.case_id == e.case_id,
            AssignmentFact.round == case.round,
            AssignmentFact.status.in_(values(OPEN_ASSIGNMENT)),
            AssignmentFact.dispatched_at <= e.at,
        )
        .values(status=AssignmentStatus.WITHDRAWN, withdrawn_at=e.at)
    )


async def assigned(session: AsyncSession, e: CaseAssigned, at: datetime) -> None:
    row = await session.scalar(
        insert(AssignmentFact)
        .values(
            id=e.assignment_id,
            case_id=e.case_id,
            round=e.round,
            unit_id=e.unit_id,
            unit_type=e.unit_type.value,
            status=AssignmentStatus.DISPATCHED,
            dispatched_at=at,
            sign_in_due=e.sign_in_due,
            on_site_due=e.on_site_due,
            resolve_due=e.resolve_due,
            escalations=0,
        )
        .on_conflict_do_nothing()
        .returning(AssignmentFact.id)
    )
    if row is not None:
        after_commit(session, metrics.UNIT_ASSIGNMENTS.labels(e.unit_id, e.unit_type.value).inc)


async def _assignment(session: AsyncSession, assignment_id: str) -> AssignmentFact:
    a = await session.get(AssignmentFact, assignment_id, with_for_update=True)
    if a is None:
        # Dispatch announces an assignment before anything else about it, on the same partition.
        raise PermanentError("unknown_assignment", "no assignment of follow-up has the assignment_id of this event")
    return a


async def signed_in(session: AsyncSession, e: AssignmentSignedIn) -> None:
    a = await _assignment(session, e.assignment_id)
    if a.signed_in_at is None:
        a.signed_in_at, a.sign_in_on_time = e.signed_in_at, e.on_time
        if ASSIGNMENT.allows("sign_in", a.status):
            a.status = ASSIGNMENT.move("sign_in", a.status)
        after_commit(session, metrics.UNIT_SIGN_INS.labels(a.unit_id, a.unit_type, str(e.on_time).lower()).inc)


async def arrived(session: AsyncSession, e: AssignmentArrived) -> None:
    a = await _assignment(session, e.assignment_id)
    if a.arrived_at is None:
        a.arrived_at, a.arrive_on_time = e.arrived_at, e.on_time
        if ASSIGNMENT.allows("arrive", a.status):
            a.status = ASSIGNMENT.move("arrive", a.status)


async def resolved(session: AsyncSession, e: AssignmentResolved) -> None:
    a = await _assignment(session, e.assignment_id)
    if a.resolved_at is None:
        a.status, a.resolved_at, a.resolve_on_time = AssignmentStatus.RESOLVED, e.resolved_at, e.on_time
        a.measured_temp_c = e.measured_temp_c
        a.photos, a.photos_outside_window = e.photos, e.photos_outside_window
        after_commit(session, metrics.UNIT_RESOLUTIONS.labels(a.unit_id, a.unit_type, str(e.on_time).lower()).inc)


async def returned(session: AsyncSession, e: AssignmentReturned) -> None:
    a = await _assignment(session, e.assignment_id)
    if a.returned_at is None:
        a.status, a.returned_at, a.return_reason = AssignmentStatus.RETURNED, e.returned_at, e.reason_code
        after_commit(session, metrics.UNIT_RETURNS.labels(a.unit_id, a.unit_type).inc)


async def extension_decided(session: AsyncSession, e: ExtensionDecided) -> None:
    if e.approved:
        a = await _assignment(session, e.assignment_id)
        a.resolve_due = e.resolve_due


async def escalated(session: AsyncSession, e: CaseEscalated, event_id: UUID) -> None:
    row = await session.scalar(
        insert(EscalationFact)
        .values(
            event_id=event_id,
            case_id=e.case_id,
            assignment_id=e.assignment_id,
            unit_id=e.unit_id,
            unit_type=e.unit_type.value if e.unit_type else None,
            level=e.level.value,
            clock=e.clock,
            escalated_at=e.escalated_at,
            district_id=e.district_id,
            street_id=e.street_id,
        )
        .on_conflict_do_nothing()
        .returning(EscalationFact.event_id)
    )
    if row is None or e.assignment_id is None:
        return
    a = await session.get(AssignmentFact, e.assignment_id, with_for_update=True)
    if a is not None:
        a.escalations += 1
        after_commit(session, metrics.UNIT_ESCALATIONS.labels(a.unit_id, a.unit_type, e.level.value).inc)


async def complaint(session: AsyncSession, e: ComplaintReported) -> None:
    loc = e.location
    await session.execute(
        insert(ComplaintFact)
        .values(
            report_id=e.report_id,
            channel=e.channel.value,
            category=e.category.value,
            reported_at=e.reported_at,
            **_place(loc),
        )
        .on_conflict_do_nothing()
    )


async def complaint_grouped(session: AsyncSession, e: ComplaintGrouped) -> None:
    await session.execute(
        insert(ComplaintFact)
        .values(
            report_id=e.report_id,
            channel=e.channel.value,
            category=e.category.value,
            reported_at=e.reported_at,
            lead_report_id=e.lead_report_id,
            **_place(e.location),
        )
        .on_conflict_do_nothing()
    )


async def household_visited(session: AsyncSession, e: HouseholdVisited) -> None:
    raised = list(dict.fromkeys([*e.report_ids, *([e.report_id] if e.report_id else [])]))
    # ``findings`` counts the problems found; a producer that only says ``problem_found`` found one.
    findings = max(e.findings, len(raised), 1 if e.problem_found else 0)
    await session.execute(
        insert(LedgerVisit)
        .values(
            visit_id=e.visit_id,
            grid_worker_id=e.grid_worker_id,
            visited_at=e.visited_at,
            residents_reached=e.residents_reached,
            problem_found=findings > 0,
            findings=findings,
            report_id=e.report_id,
            report_ids=raised,
            measured_temp_c=e.measured_temp_c,
            **_place(e.location),
        )
        .on_conflict_do_nothing()
    )


async def households_of_building(session: AsyncSession, building_id: str) -> set[str]:
    """Households of a building that follow-up has seen in reports or the visit ledger."""
    reported = select(ComplaintFact.household_id).where(
        ComplaintFact.building_id == building_id, ComplaintFact.household_id.is_not(None)
    )
    visited = select(LedgerVisit.household_id).where(
        LedgerVisit.building_id == building_id, LedgerVisit.household_id.is_not(None)
    )
    return {h for h in (await session.scalars(reported.union(visited))).all() if h}


async def complainants(session: AsyncSession, *, report_ids: list[str], building_id: str) -> set[str]:
    """Households in the building that raised the case's reports, or complaints intake grouped into them."""
    if not report_ids:
        return set()
    rows = await session.scalars(
        select(ComplaintFact.household_id).where(
            or_(ComplaintFact.report_id.in_(report_ids), ComplaintFact.lead_report_id.in_(report_ids)),
            ComplaintFact.building_id == building_id,
            ComplaintFact.household_id.is_not(None),
        )
    )
    return {h for h in rows.all() if h}
