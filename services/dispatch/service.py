"""Dispatch use cases. Each takes the session of one transaction; the caller commits."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch import domain, messages
from services.dispatch.models import Assignment, Case, CaseEvent, CaseReport, Unit, UnitCoverage
from shared.contracts.common import Category, Location, Priority, UnitType
from shared.contracts.dispatch import (
    AssignmentArrived,
    AssignmentResolved,
    AssignmentSignedIn,
    CaseAssigned,
    CaseOpened,
    CaseResolved,
    CaseRoundStarted,
)
from shared.contracts.followup import CaseClosed, CaseReopened
from shared.contracts.intake import ComplaintReported
from shared.errors import Conflict, NotFound
from shared.outbox import OutboxWriter


def _new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


async def _timeline(session: AsyncSession, case_id: str, kind: str, actor: str, at: datetime, **detail: Any) -> None:
    session.add(CaseEvent(case_id=case_id, kind=kind, actor=actor, at=at, detail=detail))


# -- registry of units ---------------------------------------------------------------------------------


async def load_units(session: AsyncSession, *, units: list[dict[str, Any]]) -> int:
    """Upsert units and replace their coverage. Idempotent: loading the same file twice changes nothing."""
    for item in units:
        unit = await session.get(Unit, item["id"])
        if unit is None:
            unit = Unit(id=item["id"])
            session.add(unit)
        unit.type = UnitType(item["type"]).value
        unit.name = item["name"]
        unit.district_id = item["district_id"]
        await session.flush()
        for cov in (await session.scalars(select(UnitCoverage).where(UnitCoverage.unit_id == unit.id))).all():
            await session.delete(cov)
        await session.flush()
        for scope_kind, scope_ids in item.get("covers", {}).items():
            for scope_id in scope_ids:
                session.add(
                    UnitCoverage(unit_id=unit.id, unit_type=unit.type, scope_kind=scope_kind, scope_id=scope_id)
                )
    return len(units)


async def _unit_serving(session: AsyncSession, unit_type: UnitType, location: Location) -> Unit | None:
    key = domain.coverage_key(unit_type, location)
    if key is None:
        return None
    return await session.scalar(
        select(Unit)
        .join(UnitCoverage, UnitCoverage.unit_id == Unit.id)
        .where(
            UnitCoverage.unit_type == unit_type.value,
            UnitCoverage.scope_kind == key[0],
            UnitCoverage.scope_id == key[1],
        )
    )


async def _route(session: AsyncSession, category: Category, location: Location) -> list[Unit]:
    """The units to convene; a case nobody serves goes to the street task force, never nowhere."""
    units: list[Unit] = []
    for unit_type in domain.unit_types_for(category):
        unit = await _unit_serving(session, unit_type, location)
        if unit is not None and unit not in units:
            units.append(unit)
    if not units:
        fallback = await _unit_serving(session, UnitType.STREET_TASK_FORCE, location)
        if fallback is not None:
            units.append(fallback)
    return units


async def _assign_round(
    session: AsyncSession, writer: OutboxWriter, case: Case, units: list[Unit], at: datetime
) -> list[Assignment]:
    sla = domain.sla_for(Category(case.category), Priority(case.priority))
    sign_in_due, on_site_due, resolve_due = sla.deadlines(at)
    assignments = []
    for unit in units:
        a = Assignment(
            id=_new_id("A"),
            case_id=case.id,
            unit_id=unit.id,
            unit_type=unit.type,
            round=case.round,
            status="dispatched",
            dispatched_at=at,
            sign_in_due=sign_in_due,
            on_site_due=on_site_due,
            resolve_due=resolve_due,
            photo_refs=[],
        )
        session.add(a)
        assignments.append(a)
        await _timeline(session, case.id, "dispatched", "dispatch", at, unit_id=unit.id, round=case.round)
        await writer.emit(
            session,
            CaseAssigned(
                case_id=case.id,
                assignment_id=a.id,
                round=case.round,
                unit_id=unit.id,
                unit_type=UnitType(unit.type),
                sign_in_due=sign_in_due,
                on_site_due=on_site_due,
                resolve_due=resolve_due,
            ),
            key=case.id,
            at=at,
        )
    case.status = "assigned" if assignments else "unrouted"
    return assignments


# -- the whistle ---------------------------------------------------------------------------------------


async def open_case(session: AsyncSession, writer: OutboxWriter, *, complaint: ComplaintReported, at: datetime) -> Case:
    """Open a case for a complaint and convene the units that serve its place."""
    existing = await session.scalar(select(CaseReport).where(CaseReport.report_id == complaint.report_id))
    if existing is not None:
        found = await session.get(Case, existing.case_id)
        assert found is not None
        return found
    loc = complaint.location
    case = Case(
        id=_new_id("C"),
        status="opened",
        tier=domain.tier_for(complaint.category).value,
        category=complaint.category.value,
        priority=complaint.priority.value,
        priority_resident=complaint.priority_resident,
        location=loc.model_dump(mode="json"),
        district_id=loc.district_id,
        street_id=loc.street_id,
        household_id=loc.household_id,
        round=1,
        redo_count=0,
        opened_at=at,
    )
    session.add(case)
    session.add(CaseReport(case_id=case.id, report_id=complaint.report_id))
    await session.flush()
    await _timeline(
        session,
        case.id,
        "reported",
        complaint.reporter_kind,
        complaint.reported_at,
        report_id=complaint.report_id,
        channel=complaint.channel.value,
    )
    await _timeline(session, case.id, "opened", "dispatch", at, tier=case.tier)
    await writer.emit(
        session,
        CaseOpened(
            case_id=case.id,
            report_ids=[complaint.report_id],
            category=complaint.category,
            priority=complaint.priority,
            tier=domain.tier_for(complaint.category),
            priority_resident=complaint.priority_resident,
            location=loc,
            opened_at=at,
        ),
        key=case.id,
        at=at,
    )
    units = await _route(session, complaint.category, loc)
    await _assign_round(session, writer, case, units, at)
    return case


# -- the unit's side: 签收, 到场, 办结 -----------------------------------------------------------------


async def get_for_unit(session: AsyncSession, *, assignment_id: str, unit_id: str) -> Assignment:
    """An assignment of this unit. Another unit's assignment is reported as missing, not as forbidden."""
    a = await session.get(Assignment, assignment_id, with_for_update=True)
    if a is None or a.unit_id != unit_id:
        raise NotFound("assignment", messages.ASSIGNMENT_NOT_FOUND)
    return a


async def list_for_unit(session: AsyncSession, *, unit_id: str, include_done: bool = False) -> list[Assignment]:
    q = select(Assignment).where(Assignment.unit_id == unit_id)
    if not include_done:
        q = q.where(Assignment.status != "resolved")
    return list((await session.scalars(q.order_by(Assignment.sign_in_due))).all())


async def sign_in(
    session: AsyncSession, writer: OutboxWriter, *, assignment_id: str, unit_id: str, at: datetime
) -> Assignment:
    a = await get_for_unit(session, assignment_id=assignment_id, unit_id=unit_id)
    if a.status != "dispatched":
        raise Conflict("already_signed_in", messages.ALREADY_SIGNED_IN)
    a.status, a.signed_in_at = "signed_in", at
    on_time = at <= a.sign_in_due
    await _timeline(session, a.case_id, "signed_in", unit_id, at, assignment_id=a.id, on_time=on_time)
    await writer.emit(
        session,
        AssignmentSignedIn(case_id=a.case_id, assignment_id=a.id, unit_id=unit_id, signed_in_at=at, on_time=on_time),
        key=a.case_id,
        at=at,
    )
    return a


async def arrive(
    session: AsyncSession, writer: OutboxWriter, *, assignment_id: str, unit_id: str, at: datetime
) -> Assignment:
    a = await get_for_unit(session, assignment_id=assignment_id, unit_id=unit_id)
    if a.status != "signed_in":
        raise Conflict(
            "not_signed_in" if a.status == "dispatched" else "already_on_site",
            messages.SIGN_IN_FIRST if a.status == "dispatched" else messages.ALREADY_ON_SITE,
        )
    a.status, a.arrived_at = "on_site", at
    on_time = at <= a.on_site_due
    await _timeline(session, a.case_id, "arrived", unit_id, at, assignment_id=a.id, on_time=on_time)
    await writer.emit(
        session,
        AssignmentArrived(case_id=a.case_id, assignment_id=a.id, unit_id=unit_id, arrived_at=at, on_time=on_time),
        key=a.case_id,
        at=at,
    )
    return a


async def resolve(
    session: AsyncSession,
    writer: OutboxWriter,
    *,
    assignment_id: str,
    unit_id: str,
    at: datetime,
    action_taken: str,
    measured_temp_c: float | None,
    photo_refs: list[str],
) -> Assignment:
    a = await get_for_unit(session, assignment_id=assignment_id, unit_id=unit_id)
    if a.status == "dispatched":
        raise Conflict("not_signed_in", messages.SIGN_IN_FIRST)
    if a.status == "resolved":
        raise Conflict("already_resolved", messages.ALREADY_RESOLVED)
    a.status, a.resolved_at = "resolved", at
    a.action_taken, a.measured_temp_c, a.photo_refs = action_taken, measured_temp_c, photo_refs
    on_time = at <= a.resolve_due
    await _timeline(session, a.case_id, "unit_resolved", unit_id, at, assignment_id=a.id, on_time=on_time)
    await writer.emit(
        session,
        AssignmentResolved(
            case_id=a.case_id,
            assignment_id=a.id,
            unit_id=unit_id,
            resolved_at=at,
            on_time=on_time,
            action_taken=action_taken,
            measured_temp_c=measured_temp_c,
        ),
        key=a.case_id,
        at=at,
    )
    await _resolve_case_if_done(session, writer, a.case_id, at)
    return a


async def _resolve_case_if_done(session: AsyncSession, writer: OutboxWriter, case_id: str, at: datetime) -> None:
    case = await session.get(Case, case_id, with_for_update=True)
    assert case is not None
    round_assignments = (
        await session.scalars(select(Assignment).where(Assignment.case_id == case_id, Assignment.round == case.round))
    ).all()
    if any(x.status != "resolved" for x in round_assignments):
        return
    case.status, case.resolved_at = "resolved", at
    report_ids = list((await session.scalars(select(CaseReport.report_id).where(CaseReport.case_id == case_id))).all())
    await _timeline(session, case_id, "resolved", "dispatch", at, round=case.round)
    await writer.emit(
        session,
        CaseResolved(
            case_id=case.id,
            round=case.round,
            category=Category(case.category),
            priority=Priority(case.priority),
            location=Location.model_validate(case.location),
            report_ids=report_ids,
            unit_ids=[x.unit_id for x in round_assignments],
            resolved_at=at,
        ),
        key=case.id,
        at=at,
    )


# -- feedback from the return visit ---------------------------------------------------------------------


async def _case_for_verdict(session: AsyncSession, case_id: str, round_: int) -> Case | None:
    case = await session.get(Case, case_id, with_for_update=True)
    if case is None:
        raise NotFound("case", messages.CASE_NOT_FOUND)
    # A verdict for a round that is no longer current is stale (the case moved on): nothing to do.
    return case if case.round == round_ and case.status == "resolved" else None


async def start_round(
    session: AsyncSession, writer: OutboxWriter, *, reopened: CaseReopened, at: datetime
) -> Case | None:
    """发回重办: the same units get a new round, with raised priority and a redo counter."""
    case = await _case_for_verdict(session, reopened.case_id, reopened.round)
    if case is None:
        return None
    previous = (
        await session.scalars(select(Assignment).where(Assignment.case_id == case.id, Assignment.round == case.round))
    ).all()
    unit_ids = list(dict.fromkeys(a.unit_id for a in previous))
    units = [u for u in [await session.get(Unit, uid) for uid in unit_ids] if u is not None]
    case.round += 1
    case.redo_count += 1
    case.priority = domain.raise_priority(Priority(case.priority)).value
    case.resolved_at = None
    await _timeline(
        session,
        case.id,
        "reopened",
        "followup",
        reopened.reopened_at,
        reason=reopened.reason.value,
        min_temp_c=reopened.min_temp_c,
    )
    await writer.emit(
        session,
        CaseRoundStarted(
            case_id=case.id,
            round=case.round,
            redo_count=case.redo_count,
            priority=Priority(case.priority),
            reason=reopened.reason.value,
        ),
        key=case.id,
        at=at,
    )
    await _assign_round(session, writer, case, units, at)
    return case


async def close(session: AsyncSession, *, closed: CaseClosed) -> Case | None:
    case = await _case_for_verdict(session, closed.case_id, closed.round)
    if case is None:
        return None
    case.status, case.closed_at = "closed", closed.closed_at
    await _timeline(session, case.id, "closed", "followup", closed.closed_at, min_temp_c=closed.min_temp_c)
    return case


# -- reading cases ---------------------------------------------------------------------------------------


async def get_case(session: AsyncSession, *, case_id: str) -> tuple[Case, list[Assignment], list[CaseEvent]]:
    case = await session.get(Case, case_id)
    if case is None:
        raise NotFound("case", messages.CASE_NOT_FOUND)
    assignments = list(
        await session.scalars(select(Assignment).where(Assignment.case_id == case_id).order_by(Assignment.round))
    )
    events = list(await session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)))
    return case, assignments, events
