"""Owing return visits: a resolved round owes them within ``visit_within_hours`` (on the deadline engine, timer
kind ``VISIT_DUE``); a visit still open at its deadline is marked overdue and escalated to the community; a case
withdrawn by its 12345 platform (撤单) owes none any more. Each takes the session of one transaction; the caller
commits."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.followup import domain, facts, metrics
from services.followup.config import FollowupSettings
from services.followup.models import BUILDING, Round, Visit, timers
from services.followup.states import ROUND, VISIT, CaseStatus, RoundOutcome, VisitStatus
from shared.contracts.common import Location
from shared.contracts.dispatch import CaseResolved, CaseWithdrawn
from shared.contracts.followup import VisitOverdue, VisitScheduled
from shared.effects import Arm, Effect, Stop, apply, count
from shared.ids import new_id
from shared.outbox import OutboxWriter

VISIT_DUE = "visit_due"


def _place_of(loc: Location, target: str) -> str | None:
    """The visit's place as people name it: the case's own (household or building), or the building's part of it
    for another household of a building sample (the field app adds the room from the grid's registry)."""
    if not loc.place_name:
        return None
    if target == BUILDING or target == loc.household_id:
        return loc.place_name
    return " · ".join(loc.place_name.split(" · ")[:2])


async def schedule(
    session: AsyncSession, writer: OutboxWriter, *, resolved: CaseResolved, settings: FollowupSettings
) -> list[Visit]:
    """A resolved round owes return visits within ``visit_within_hours``: the household of the case, or for a
    building-wide case a sample of the building's households (one building-level visit when none is known)."""
    case = await facts.case_resolved(session, resolved)
    if case.status == CaseStatus.WITHDRAWN:
        return []  # 撤单 came first: nobody is visited about a withdrawn case
    loc = resolved.location
    standard = settings.standard_for(loc.district_id)
    created = await session.scalar(
        insert(Round)
        .values(
            case_id=resolved.case_id,
            round=resolved.round,
            street_id=loc.street_id,
            district_id=loc.district_id,
            unit_ids=resolved.unit_ids,
            resolved_at=resolved.resolved_at,
            standard_c=standard,
            outcome=RoundOutcome.PENDING,
            unreached=False,
        )
        .on_conflict_do_nothing()
        .returning(Round.case_id)
    )
    if created is None:
        return []  # this round already owes its visits
    if loc.household_id:
        targets = [loc.household_id]
    else:
        targets = domain.building_sample(
            case_id=case.id,
            round_=resolved.round,
            complainants=await facts.complainants(session, report_ids=resolved.report_ids, building_id=loc.building_id),
            known=await facts.households_of_building(session, loc.building_id),
            size=settings.building_sample_size,
        ) or [BUILDING]
    due_at = resolved.resolved_at + timedelta(hours=settings.visit_within_hours)
    visits = []
    for target in targets:
        visit = Visit(
            id=new_id("V"),
            case_id=resolved.case_id,
            round=resolved.round,
            target=target,
            category=resolved.category.value,
            household_id=None if target == BUILDING else target,
            building_id=loc.building_id,
            place_name=_place_of(loc, target),
            grid_id=loc.grid_id,
            community_id=loc.community_id,
            street_id=loc.street_id,
            district_id=loc.district_id,
            unit_ids=resolved.unit_ids,
            resolved_at=resolved.resolved_at,
            due_at=due_at,
            standard_c=standard,
            status=VisitStatus.PENDING,
            attempts=0,
            attempt_log=[],
            unreached=False,
            photo_refs=[],
        )
        session.add(visit)
        visits.append(visit)
        await apply(
            session,
            writer,
            Effect(
                at=resolved.resolved_at,
                event=VisitScheduled(
                    visit_id=visit.id,
                    case_id=visit.case_id,
                    round=visit.round,
                    household_id=visit.household_id,
                    grid_id=visit.grid_id,
                    due_at=due_at,
                ),
                key=visit.case_id,
                arms=(Arm(timers, VISIT_DUE, visit.id, due_at),),
                metrics=(count(metrics.VISITS_SCHEDULED.labels(loc.district_id).inc),),
            ),
        )
    return visits


# -- 撤单 ------------------------------------------------------------------------------------------------------------


async def withdraw(session: AsyncSession, writer: OutboxWriter, *, withdrawn: CaseWithdrawn) -> list[Visit]:
    """The case was withdrawn: its visits still pending are cancelled (their deadline disarmed, so none goes
    overdue) and a round still awaiting them is withdrawn. A visit already recorded, and the verdict of a decided
    round, stay as they are. Returns the visits cancelled."""
    # Lock order of recording.record and of a spot-check's finding: the rounds, their visits, then the case — a
    # visit recorded at the moment of the withdrawal waits for it (and then finds the visit cancelled), or the
    # withdrawal waits for the visit (and then finds it concluded), never a deadlock.
    rounds = (
        await session.scalars(
            select(Round).where(Round.case_id == withdrawn.case_id).order_by(Round.round).with_for_update()
        )
    ).all()
    pending = (
        await session.scalars(
            select(Visit)
            .where(Visit.case_id == withdrawn.case_id, Visit.status == VisitStatus.PENDING)
            .order_by(Visit.id)
            .with_for_update()
        )
    ).all()
    case = await facts.case_withdrawn(session, withdrawn)
    if case is None:
        return []
    at = withdrawn.withdrawn_at
    for round_ in rounds:
        if ROUND.allows("withdraw", round_.outcome):
            round_.outcome = ROUND.move("withdraw", round_.outcome)
    effects = []
    for visit in pending:
        visit.status, visit.concluded_at = VISIT.move("cancel", visit.status), at
        effects.append(
            Effect(
                at=at,
                stops=(Stop(timers, visit.id, (VISIT_DUE,)),),
                metrics=(count(metrics.VISITS_RECORDED.labels(visit.district_id, visit.status).inc),),
            )
        )
    await apply(session, writer, *effects)
    return list(pending)


# -- overdue ---------------------------------------------------------------------------------------------------------


async def visit_overdue(session: AsyncSession, writer: OutboxWriter, *, visit_id: str, now: datetime) -> Visit | None:
    """The deadline passed with the visit still open: mark it and escalate it to the community (once)."""
    visit = await session.get(Visit, visit_id, with_for_update=True)
    if (
        visit is None
        or not VISIT.allows("mark_overdue", visit.status)
        or visit.overdue_at is not None
        or visit.due_at > now
    ):
        return None
    visit.overdue_at = now
    await apply(
        session,
        writer,
        Effect(
            at=now,
            event=VisitOverdue(
                visit_id=visit.id,
                case_id=visit.case_id,
                round=visit.round,
                grid_id=visit.grid_id,
                community_id=visit.community_id,
                street_id=visit.street_id,
                district_id=visit.district_id,
                due_at=visit.due_at,
                overdue_at=now,
                attempts=visit.attempts,
            ),
            key=visit.case_id,
            metrics=(count(metrics.VISITS_OVERDUE.labels(visit.district_id).inc),),
        ),
    )
    return visit
