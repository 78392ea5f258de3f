"""Intake use cases. Each takes the session of one transaction; the caller commits."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import domain, messages
from services.intake.models import Area, Building, Household, Report, ReportEvent
from services.intake.schemas import GridReportIn, RegistryIn
from shared.contracts.common import Channel, Location
from shared.contracts.intake import ComplaintReported
from shared.errors import ApiError, NotFound
from shared.outbox import OutboxWriter


async def load_registry(session: AsyncSession, *, registry: RegistryIn) -> dict[str, int]:
    """Upsert areas, buildings and households. Idempotent."""
    for area in registry.areas:
        await session.execute(
            insert(Area)
            .values(**area.model_dump())
            .on_conflict_do_update(
                index_elements=[Area.id], set_={"kind": area.kind, "name": area.name, "parent_id": area.parent_id}
            )
        )
    await session.flush()
    parents = {a.id: a for a in (await session.scalars(select(Area))).all()}
    for b in registry.buildings:
        community = parents[b.compound_id].parent_id if b.compound_id in parents else None
        street = parents[community].parent_id if community in parents else None
        district = parents[street].parent_id if street in parents else None
        if community is None or street is None or district is None:
            raise ApiError(422, "registry_incomplete", f"楼栋 {b.id} 的上级区域不完整", "buildings")
        values = b.model_dump() | {"community_id": community, "street_id": street, "district_id": district}
        await session.execute(
            insert(Building).values(**values).on_conflict_do_update(index_elements=[Building.id], set_=values)
        )
    for h in registry.households:
        values = h.model_dump()
        await session.execute(
            insert(Household).values(**values).on_conflict_do_update(index_elements=[Household.id], set_=values)
        )
    return {"areas": len(registry.areas), "buildings": len(registry.buildings), "households": len(registry.households)}


async def _place(
    session: AsyncSession, household_id: str | None, building_id: str | None
) -> tuple[Building, Household | None]:
    household = None
    if household_id:
        household = await session.get(Household, household_id)
        if household is None:
            raise ApiError(422, "unknown_household", messages.HOUSEHOLD_UNKNOWN, "household_id")
        if building_id and building_id != household.building_id:
            raise ApiError(422, "household_not_in_building", messages.HOUSEHOLD_NOT_IN_BUILDING, "building_id")
        building_id = household.building_id
    if not building_id:
        raise ApiError(422, "missing_place", messages.NEED_PLACE, "household_id")
    building = await session.get(Building, building_id)
    if building is None:
        raise ApiError(422, "unknown_building", messages.BUILDING_UNKNOWN, "building_id")
    return building, household


def _location(building: Building, household: Household | None) -> Location:
    return Location(
        district_id=building.district_id,
        street_id=building.street_id,
        community_id=building.community_id,
        grid_id=building.grid_id,
        compound_id=building.compound_id,
        building_id=building.id,
        household_id=household.id if household else None,
        substation_id=building.substation_id,
    )


async def report_from_grid(
    session: AsyncSession,
    writer: OutboxWriter,
    *,
    body: GridReportIn,
    grid_worker_id: str,
    grid_id: str,
    at: datetime,
) -> tuple[Report, bool]:
    """一键上报. Returns the report and whether it is new (a resent idempotency key returns the first one)."""
    external_id = f"grid:{grid_worker_id}:{body.idempotency_key}" if body.idempotency_key else None
    if external_id:
        existing = await session.scalar(select(Report).where(Report.external_id == external_id))
        if existing is not None:
            return existing, False
    building, household = await _place(session, body.household_id, body.building_id)
    if building.grid_id != grid_id:
        raise ApiError(403, "not_your_grid", messages.NOT_YOUR_GRID, "household_id")
    return await _accept(
        session,
        writer,
        channel=Channel.GRID_REPORT,
        external_id=external_id,
        building=building,
        household=household,
        category=body.category,
        description=body.description,
        measured_temp_c=body.measured_temp_c,
        photo_refs=body.photo_refs,
        reporter_kind="grid_worker",
        reporter_id=grid_worker_id,
        at=at,
    ), True


async def _accept(
    session: AsyncSession,
    writer: OutboxWriter,
    *,
    channel: Channel,
    external_id: str | None,
    building: Building,
    household: Household | None,
    category: Any,
    description: str,
    measured_temp_c: float | None,
    photo_refs: list[str],
    reporter_kind: str,
    reporter_id: str | None,
    at: datetime,
) -> Report:
    """Store, enrich, classify and announce a report: the one path every channel ends in."""
    location = _location(building, household)
    priority_resident = bool(household and household.priority_group)
    priority = domain.priority_for(category, priority_resident=priority_resident, measured_temp_c=measured_temp_c)
    report = Report(
        id=f"R-{uuid.uuid4().hex[:16]}",
        channel=channel.value,
        external_id=external_id,
        category=category.value,
        priority=priority.value,
        priority_resident=priority_resident,
        household_id=location.household_id,
        building_id=building.id,
        location=location.model_dump(mode="json"),
        description=description,
        measured_temp_c=measured_temp_c,
        photo_refs=photo_refs,
        reporter_kind=reporter_kind,
        reporter_id=reporter_id,
        reported_at=at,
        status="accepted",
    )
    session.add(report)
    session.add(ReportEvent(report_id=report.id, status="accepted", note=domain.STATUS_NOTES["accepted"], at=at))
    await session.flush()
    await writer.emit(
        session,
        ComplaintReported(
            report_id=report.id,
            channel=channel,
            category=category,
            priority=priority,
            priority_resident=priority_resident,
            location=location,
            description=description,
            measured_temp_c=measured_temp_c,
            photo_refs=photo_refs,
            reporter_kind=reporter_kind,
            reporter_id=reporter_id,
            reported_at=at,
        ),
        key=location.household_id or building.id,
        at=at,
        correlation_id=report.id,
    )
    return report


async def link_case(session: AsyncSession, *, case_id: str, report_ids: list[str], at: datetime) -> None:
    await session.execute(update(Report).where(Report.id.in_(report_ids)).values(case_id=case_id))
    await set_case_status(session, case_id=case_id, status="dispatched", at=at)


async def set_case_status(session: AsyncSession, *, case_id: str, status: str, at: datetime) -> int:
    """Tell every report of the case what happened (grouped reports all hear it)."""
    reports = (await session.scalars(select(Report).where(Report.case_id == case_id))).all()
    for report in reports:
        report.status = status
        report.updated_at = at
        session.add(ReportEvent(report_id=report.id, status=status, note=domain.STATUS_NOTES[status], at=at))
    return len(reports)


async def get(session: AsyncSession, *, report_id: str) -> tuple[Report, list[ReportEvent]]:
    report = await session.get(Report, report_id)
    if report is None:
        raise NotFound("report", messages.REPORT_NOT_FOUND)
    events = (
        await session.scalars(select(ReportEvent).where(ReportEvent.report_id == report_id).order_by(ReportEvent.id))
    ).all()
    return report, list(events)
