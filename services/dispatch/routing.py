"""Routing: who serves a place, and convening them (派单): one assignment per assignee, its clocks armed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch import domain, metrics
from services.dispatch.calendar_years import work_calendar
from services.dispatch.clocks import reminder
from services.dispatch.domain import Clock, Rules
from services.dispatch.effects import Changed, apply
from services.dispatch.models import Assignment, Case, UnitCoverage
from services.dispatch.rules import cold_snap_active
from services.dispatch.states import AssignmentStatus, case_after_assigning
from services.dispatch.timeline import Happened
from shared.contracts.common import Category, Location, Priority, Tier, UnitType
from shared.contracts.dispatch import CaseAssigned
from shared.db import once_per_transaction
from shared.ids import new_id
from shared.outbox import OutboxWriter


@dataclass(frozen=True, slots=True)
class Assignee:
    id: str
    type: UnitType


async def find_assignee(session: AsyncSession, unit_type: UnitType, location: Location) -> Assignee | None:
    key = domain.coverage_key(unit_type, location)
    if key is None:
        return None
    if unit_type is UnitType.GRID:
        return Assignee(key[1], unit_type)

    async def covering() -> str | None:
        return await session.scalar(
            select(UnitCoverage.unit_id).where(
                UnitCoverage.unit_type == unit_type.value,
                UnitCoverage.scope_kind == key[0],
                UnitCoverage.scope_id == key[1],
            )
        )

    # Read once per transaction: a batch of complaints from one substation or compound routes on one read.
    unit_id = await once_per_transaction(session, ("coverage", unit_type, *key), covering)
    return Assignee(unit_id, unit_type) if unit_id else None


async def route(
    session: AsyncSession,
    rules: Rules,
    case: Case,
    *,
    types: tuple[UnitType, ...] | None = None,
    exclude: set[str] | frozenset[str] = frozenset(),
) -> list[Assignee]:
    """The assignees to convene; what nobody serves goes to the street task force, then the district bureau."""
    location = Location.model_validate(case.location)
    wanted = types or domain.unit_types_for(rules, Category(case.category), Tier(case.tier))
    found: list[Assignee] = []
    for unit_type in wanted:
        a = await find_assignee(session, unit_type, location)
        if a is not None and a.id not in exclude and a not in found:
            found.append(a)
    for fallback in (UnitType.STREET_TASK_FORCE, UnitType.HOUSING_BUREAU):
        if found:
            break
        a = await find_assignee(session, fallback, location)
        if a is not None and a.id not in exclude:
            found.append(a)
    return found


async def assign(
    session: AsyncSession,
    writer: OutboxWriter,
    rules: Rules,
    case: Case,
    assignees: list[Assignee],
    at: datetime,
    *,
    first: Sequence[Changed] = (),
) -> list[Assignment]:
    """Create one assignment per assignee with its own clocks, arm the timers, announce each (派单). ``first``: what
    happened to the case just before (its opening), written with the assignments' changes in one go. The case's
    status moves first and is flushed before the assignments are added (the unit of work knows no order between
    the two tables), so a case opened in this transaction is inserted with it rather than updated after."""
    case.status = case_after_assigning(case.status, bool(assignees))
    await session.flush()
    sla = domain.sla_for(
        rules,
        Category(case.category),
        Priority(case.priority),
        priority_resident=case.priority_resident,
        cold_snap=await cold_snap_active(session, case.district_id, at),
    )
    due = sla.deadlines(at, await work_calendar(session, rules))
    created, changes = [], list(first)
    for who in assignees:
        a = Assignment(
            id=new_id("A"),
            case_id=case.id,
            unit_id=who.id,
            unit_type=who.type.value,
            round=case.round,
            status=AssignmentStatus.DISPATCHED,
            dispatched_at=at,
            sign_in_due=due[Clock.SIGN_IN],
            on_site_due=due[Clock.ON_SITE],
            resolve_due=due[Clock.RESOLVE],
            working_time=sla.working,
            photo_refs=[],
        )
        session.add(a)
        created.append(a)
        changes.append(
            Changed(
                case_id=case.id,
                happened=Happened.DISPATCHED,
                actor="dispatch",
                at=at,
                detail={"unit_id": who.id, "unit_type": who.type.value, "round": case.round},
                event=CaseAssigned(
                    case_id=case.id,
                    assignment_id=a.id,
                    round=case.round,
                    unit_id=who.id,
                    unit_type=who.type,
                    sign_in_due=due[Clock.SIGN_IN],
                    on_site_due=due[Clock.ON_SITE],
                    resolve_due=due[Clock.RESOLVE],
                ),
                metrics=(metrics.ASSIGNMENTS.labels(case.district_id, who.type.value).inc,),
                arms=tuple(
                    reminder(a.id, clock, due[clock], sla.length(clock), working=sla.working) for clock in Clock
                ),
            )
        )
    await apply(session, writer, *changes)  # every clock of every assignment armed in one statement
    return created


async def round_assignments(session: AsyncSession, case: Case) -> list[Assignment]:
    q = select(Assignment).where(Assignment.case_id == case.id, Assignment.round == case.round)
    return list((await session.scalars(q.order_by(Assignment.dispatched_at))).all())
