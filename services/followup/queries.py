"""Reading the facts behind scorecards and reports, within what the caller may see. The arithmetic is in
``scorecard`` and ``reports``; this module only gathers rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from services.followup import assessment, report_facts, scorecard, texts
from services.followup.models import (
    AssignmentFact,
    CaseFact,
    CaseReport,
    ComplaintFact,
    EscalationFact,
    HurryFact,
    LedgerVisit,
    Round,
    SpotCheck,
    Visit,
)
from services.followup.states import VISIT_CONCLUDED
from shared.auth import Principal, Role
from shared.errors import Invalid, NotFound
from shared.scope import area_filter, oversees, remit
from shared.states import values

# -- scorecards ------------------------------------------------------------------------------------------------


def case_scope(principal: Principal) -> tuple[str, ColumnElement[bool]]:
    """Which cases a scorecard is computed over: the task force's street, the district's district, else all
    (a unit is then shown only its own line of the whole ranking)."""
    area = remit(principal)
    if principal.role in (Role.TASK_FORCE, Role.DISTRICT) and area is not None:
        return area.name, area_filter(principal, district=CaseFact.district_id, street=CaseFact.street_id)
    if principal.role is Role.UNIT:
        return f"unit:{principal.sub}", true()
    return "all", true()


async def scorecard_facts(
    session: AsyncSession, *, start: datetime, end: datetime, scope: ColumnElement[bool]
) -> tuple[list[scorecard.AssignmentRow], list[scorecard.RoundRow], list[scorecard.VisitRow], list[scorecard.CheckRow]]:
    """The cohort of assignments dispatched in [start, end) on cases in scope, and the rounds, concluded return
    visits and spot-checks of their cases. A case withdrawn by its 12345 platform (撤单) counts against no unit:
    none of its assignments is in the cohort."""
    rows = (
        await session.execute(
            select(AssignmentFact, CaseFact.district_id)
            .join(CaseFact, CaseFact.id == AssignmentFact.case_id)
            .where(
                AssignmentFact.dispatched_at >= start,
                AssignmentFact.dispatched_at < end,
                CaseFact.withdrawn_at.is_(None),
                scope,
            )
        )
    ).all()
    assignments = [
        scorecard.AssignmentRow(
            id=a.id,
            case_id=a.case_id,
            round=a.round,
            unit_id=a.unit_id,
            unit_type=a.unit_type,
            district_id=district_id,
            dispatched_at=a.dispatched_at,
            sign_in_due=a.sign_in_due,
            resolve_due=a.resolve_due,
            status=a.status,
            signed_in_at=a.signed_in_at,
            sign_in_on_time=a.sign_in_on_time,
            resolved_at=a.resolved_at,
            resolve_on_time=a.resolve_on_time,
            returned_at=a.returned_at,
            withdrawn_at=a.withdrawn_at,
            escalations=a.escalations,
            photos=a.photos,
            photos_outside_window=a.photos_outside_window,
        )
        for a, district_id in rows
    ]
    case_ids = sorted({a.case_id for a in assignments})
    if not case_ids:
        return assignments, [], [], []
    rounds = [
        scorecard.RoundRow(r.case_id, r.round, r.outcome, r.reason)
        for r in (await session.scalars(select(Round).where(Round.case_id.in_(case_ids)))).all()
    ]
    visits = [
        scorecard.VisitRow(
            id=v.id,
            case_id=v.case_id,
            round=v.round,
            satisfaction=v.satisfaction,
            room_temps_c=tuple(v.room_temps_c or ()),
            standard_c=v.standard_c,
        )
        for v in (
            await session.scalars(
                select(Visit).where(Visit.case_id.in_(case_ids), Visit.status.in_(values(VISIT_CONCLUDED)))
            )
        ).all()
    ]
    checks = [
        scorecard.CheckRow(c.case_id, c.round, c.status)
        for c in (await session.scalars(select(SpotCheck).where(SpotCheck.case_id.in_(case_ids)))).all()
    ]
    return assignments, rounds, visits, checks


async def hurries_of(session: AsyncSession, case_ids: list[str]) -> list[assessment.HurryRow]:
    """The 催单 of these cases, with the units each named (the 重复诉求率 of the assessment)."""
    if not case_ids:
        return []
    rows = await session.scalars(select(HurryFact).where(HurryFact.case_id.in_(case_ids)))
    return [assessment.HurryRow(h.case_id, tuple(h.unit_ids)) for h in rows.all()]


# -- areas of the daily and season reports --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Area:
    level: str  # community or street
    id: str
    street_id: str
    district_id: str


async def _where_is(session: AsyncSession, level: str, area_id: str) -> tuple[str, str] | None:
    """(street, district) of a community or street, from any fact that mentions it."""
    for model in (CaseFact, ComplaintFact, LedgerVisit):
        col = model.community_id if level == "community" else model.street_id
        row = (await session.execute(select(model.street_id, model.district_id).where(col == area_id).limit(1))).first()
        if row is not None:
            return row[0], row[1]
    return None


async def _grid_community(session: AsyncSession, grid_id: str) -> str | None:
    for model in (CaseFact, ComplaintFact, LedgerVisit):
        found = await session.scalar(select(model.community_id).where(model.grid_id == grid_id).limit(1))
        if found is not None:
            return found
    return None


async def resolve_area(
    session: AsyncSession, *, principal: Principal, community_id: str | None, street_id: str | None
) -> Area:
    """The community or street asked for, if the caller oversees it; 404 otherwise (also for an area follow-up
    has no fact about, and for one outside the caller's remit: no existence leak)."""
    if bool(community_id) == bool(street_id):
        raise Invalid("one_area", texts.ONE_AREA, "community_id")
    level, area_id = ("community", community_id) if community_id else ("street", street_id)
    assert area_id is not None
    where = await _where_is(session, level, area_id)
    if where is None:
        raise NotFound("area", texts.AREA_NOT_FOUND)
    area = Area(level, area_id, *where)
    # A grid worker oversees its grid, and through it the one community the grid lies in.
    allowed = oversees(principal, district_id=area.district_id, street_id=area.street_id) or (
        principal.role is Role.GRID_WORKER
        and level == "community"
        and await _grid_community(session, principal.scope) == area_id
    )
    if not allowed:
        raise NotFound("area", texts.AREA_NOT_FOUND)
    return area


async def load_area(session: AsyncSession, area: Area, *, since: datetime, until: datetime) -> report_facts.AreaFacts:
    """The facts a report of ``area`` over [since, until) needs: every report up to ``until`` (for what is
    still open), and the rest of the history that can still matter in the window."""

    def of(model: type[CaseFact] | type[ComplaintFact] | type[LedgerVisit] | type[Visit]) -> ColumnElement[bool]:
        col = model.community_id if area.level == "community" else model.street_id
        return col == area.id

    facts = report_facts.AreaFacts()
    for r, case_id in (
        await session.execute(
            select(ComplaintFact, CaseReport.case_id)
            .outerjoin(CaseReport, CaseReport.report_id == ComplaintFact.report_id)
            .where(of(ComplaintFact), ComplaintFact.reported_at < until, ComplaintFact.lead_report_id.is_(None))
        )
    ).all():
        facts.reports.append(report_facts.ReportFact(r.report_id, r.reported_at, case_id))
    for lv in (
        await session.scalars(
            select(LedgerVisit).where(of(LedgerVisit), LedgerVisit.visited_at >= since, LedgerVisit.visited_at < until)
        )
    ).all():
        facts.ledger.append(
            report_facts.LedgerFact(
                visited_at=lv.visited_at,
                household_key=lv.household_id or lv.building_id,
                residents_reached=lv.residents_reached,
                findings=lv.findings,
                unreported=max(0, lv.findings - len(lv.report_ids)),
            )
        )
    for c in (await session.scalars(select(CaseFact).where(of(CaseFact), CaseFact.opened_at < until))).all():
        facts.cases[c.id] = report_facts.CaseInfo(
            c.id, c.category, c.building_id, c.household_id, c.priority_resident, c.opened_at, c.withdrawn_at
        )
    in_area = select(CaseFact.id).where(of(CaseFact))
    for rd in (await session.scalars(select(Round).where(Round.case_id.in_(in_area)))).all():
        facts.rounds.append(
            report_facts.RoundFact(rd.case_id, rd.round, rd.closed_at, rd.reopened_at, rd.reason, rd.unreached)
        )
    for e in (
        await session.scalars(
            select(EscalationFact).where(
                EscalationFact.case_id.in_(in_area),
                EscalationFact.escalated_at >= since,
                EscalationFact.escalated_at < until,
            )
        )
    ).all():
        facts.escalations.append(report_facts.EscalationFact(e.case_id, e.escalated_at, e.level))
    for v in (
        await session.scalars(
            select(Visit).where(of(Visit), or_(Visit.concluded_at.is_(None), Visit.concluded_at >= since))
        )
    ).all():
        facts.visits.append(
            report_facts.ReturnVisitFact(
                case_id=v.case_id,
                scheduled_at=v.resolved_at,
                due_at=v.due_at,
                status=v.status,
                concluded_at=v.concluded_at,
                overdue_at=v.overdue_at,
                satisfaction=v.satisfaction,
                room_temps_c=tuple(v.room_temps_c or ()),
            )
        )
    ended = func.coalesce(AssignmentFact.resolved_at, AssignmentFact.returned_at, AssignmentFact.withdrawn_at)
    for a in (
        await session.scalars(
            select(AssignmentFact).where(
                AssignmentFact.case_id.in_(in_area), or_(ended.is_(None), and_(ended >= since))
            )
        )
    ).all():
        facts.clocks.append(
            report_facts.ClockFact(
                case_id=a.case_id,
                dispatched_at=a.dispatched_at,
                sign_in_due=a.sign_in_due,
                signed_in_at=a.signed_in_at,
                resolve_due=a.resolve_due,
                ended_at=a.resolved_at or a.returned_at or a.withdrawn_at,
            )
        )
    return facts
