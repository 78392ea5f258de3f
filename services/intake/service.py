"""Intake use cases. Each takes the session of one transaction; the caller commits.

``_accept`` is the one path every channel ends in: place (registry enrichment), priority, grouping, the report
row, its timeline and its event, all in the caller's transaction, so nothing is acknowledged before it is durable.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import domain, metrics, texts
from services.intake.complaint import Complaint, Understood
from services.intake.models import (
    Area,
    Building,
    Household,
    Report,
    ReportEvent,
    ReportGroup,
)
from services.intake.schemas import GridReportIn
from services.intake.states import ReportStatus, TimelineEntry
from shared.auth import Principal, Role
from shared.contracts.common import Category, Channel, Location, place_label
from shared.db import after_commit
from shared.errors import Forbidden, Invalid, NotFound
from shared.evidence import Evidence
from shared.ids import new_id
from shared.outbox import OutboxWriter


@dataclass(frozen=True, slots=True)
class Intake:
    """What every channel hands to ``_accept`` besides the session: where events go and the grouping window."""

    writer: OutboxWriter
    group_window: timedelta


# How long before a report or visit is sent its photos may have been taken (a phone offline for a day still counts).
PHOTO_SLACK = timedelta(hours=48)


# -- the registry's answers -------------------------------------------------------------------------------------


async def place(
    session: AsyncSession, household_id: str | None, building_id: str | None
) -> tuple[Building, Household | None]:
    """The registry entries a report names. Unknown ids are the caller's error, never a guess."""
    if household_id:
        row = (
            await session.execute(
                select(Household, Building)
                .join(Building, Building.id == Household.building_id)
                .where(Household.id == household_id)
            )
        ).first()
        if row is None:
            raise Invalid("unknown_household", texts.HOUSEHOLD_UNKNOWN, "household_id")
        household, building = row
        if building_id and building_id != household.building_id:
            raise Invalid("household_not_in_building", texts.HOUSEHOLD_NOT_IN_BUILDING, "building_id")
        return building, household
    if not building_id:
        raise Invalid("missing_place", texts.NEED_PLACE, "household_id")
    found = await session.get(Building, building_id)
    if found is None:
        raise Invalid("unknown_building", texts.BUILDING_UNKNOWN, "building_id")
    return found, None


async def location_of(session: AsyncSession, building: Building, household: Household | None) -> Location:
    compound = await session.get(Area, building.compound_id)
    return Location(
        place_name=place_label(
            compound.name if compound else "",
            building.name,
            household.unit_no if household else None,
            household.room if household else None,
        ),
        district_id=building.district_id,
        street_id=building.street_id,
        community_id=building.community_id,
        grid_id=building.grid_id,
        compound_id=building.compound_id,
        building_id=building.id,
        household_id=household.id if household else None,
        substation_id=building.substation_id,
    )


# -- channels ---------------------------------------------------------------------------------------------


async def report_from_grid(
    session: AsyncSession,
    intake: Intake,
    *,
    body: GridReportIn,
    grid_worker_id: str,
    grid_id: str,
    at: datetime,
    evidence: Evidence | None = None,
) -> tuple[Report, bool]:
    """一键上报. Returns the report and whether it is new (a resent idempotency key returns the first one). Its
    photos must be this worker's uploads (shared.evidence), taken within ``PHOTO_SLACK`` before it is sent: a
    phone without signal may hold a report for hours."""
    external_id = f"grid:{grid_worker_id}:{body.idempotency_key}" if body.idempotency_key else None
    if external_id:
        existing = await session.scalar(select(Report).where(Report.external_id == external_id))
        if existing is not None:
            after_commit(session, metrics.DUPLICATES.labels(Channel.GRID_REPORT.value).inc)
            return existing, False
    building, household = await place(session, body.household_id, body.building_id)
    if building.grid_id != grid_id:
        raise Forbidden("not_your_grid", texts.NOT_YOUR_GRID, "household_id")
    if body.photo_refs:
        if evidence is None:
            raise ValueError("photos need the service's evidence store")
        # A resend of the same key names the same subject, so its photos are not "already used".
        await evidence.accept(
            session,
            body.photo_refs,
            principal=Principal(role=Role.GRID_WORKER, sub=grid_worker_id, scope=grid_id),
            subject=external_id or f"grid:{grid_worker_id}:{uuid.uuid4().hex}",
            case_id=None,
            window=(at - PHOTO_SLACK, at),
        )
    return await accept(
        session,
        intake,
        Complaint(
            channel=Channel.GRID_REPORT,
            external_id=external_id,
            building=building,
            household=household,
            category=body.category or domain.classify(body.description),
            description=body.description,
            measured_temp_c=body.measured_temp_c,
            photo_refs=tuple(body.photo_refs),
            reporter_kind="grid_worker",
            reporter_id=grid_worker_id,
            at=at,
        ),
    )


# -- the one path ---------------------------------------------------------------------------------------------


async def accept(session: AsyncSession, intake: Intake, complaint: Complaint) -> tuple[Report, bool]:
    """Enrich, classify, group, store and announce a complaint. Returns (report, created).

    With an ``external_id`` (12345 order, client idempotency key) the work runs in a savepoint and the report is
    inserted with ON CONFLICT DO NOTHING on the unique external id: a concurrent duplicate waits for the first
    transaction, finds its row, undoes its own grouping and answers with the first report.
    """
    if complaint.external_id is None:
        return await _accept(session, intake, complaint)
    savepoint = await session.begin_nested()
    try:
        result = await _accept(session, intake, complaint)
    except BaseException:
        await savepoint.rollback()
        raise
    if result[1]:
        await savepoint.commit()
        return result
    await savepoint.rollback()
    existing = await session.scalar(select(Report).where(Report.external_id == complaint.external_id))
    assert existing is not None, "the conflicting report is committed"
    after_commit(session, metrics.DUPLICATES.labels(complaint.channel.value).inc)
    return existing, False


# The hot path in two statements: claim (find or open) the incident, then write the report, its timeline and the
# incident's counter at once. Written as SQL so each is one round trip and compiled once.
_CLAIM_GROUP = text(
    f"""
    WITH found AS (
        SELECT g.id, g.key, g.scope, g.lead_report_id, g.case_id, g.status, g.status_at, g.last_report_at,
               lead.agency, lead.expected_at
          FROM report_groups AS g LEFT JOIN reports AS lead ON lead.id = g.lead_report_id
         WHERE g.key = ANY(CAST(:keys AS VARCHAR[])) AND g.accepting
         ORDER BY g.key
           FOR UPDATE OF g
    ), created AS (
        INSERT INTO report_groups (id, key, scope, scope_id, category, lead_report_id, status, accepting,
                                   report_count, opened_at, last_report_at)
        SELECT :id, :key, :scope, :scope_id, :category, :lead, '{ReportStatus.ACCEPTED}', true, 1, :at, :at
         WHERE NOT EXISTS (SELECT 1 FROM found)
        ON CONFLICT (key) WHERE accepting DO NOTHING
        RETURNING id, key, scope, lead_report_id, case_id, status, status_at, last_report_at,
                  CAST(NULL AS VARCHAR) AS agency, CAST(NULL AS TIMESTAMPTZ) AS expected_at
    )
    SELECT true AS created, * FROM created
    UNION ALL
    SELECT false AS created, * FROM found
    """
)
_RETIRE_GROUP = text("UPDATE report_groups SET accepting = false WHERE id = :id")
_WRITE_REPORT = text(
    """
    WITH rep AS (
        INSERT INTO reports (id, channel, external_id, category, priority, priority_resident, household_id,
                             building_id, location, description, measured_temp_c, photo_refs, reporter_kind,
                             reporter_id, reported_at, status, status_at, case_id, updated_at, group_id, integration_id,
                             order_no, agency, expected_at)
        VALUES (:id, :channel, :external_id, :category, :priority, :priority_resident, :household_id,
                :building_id, CAST(:location AS JSONB), :description, :measured_temp_c,
                CAST(:photo_refs AS JSONB), :reporter_kind, :reporter_id, :at, :status, :status_at, :case_id, :at,
                :group_id, :integration_id, :order_no, :agency, :expected_at)
        ON CONFLICT (external_id) DO NOTHING
        RETURNING id
    ), timeline AS (
        INSERT INTO report_events (report_id, status, note, at)
        SELECT rep.id, e.status, e.note, :at
          FROM rep,
               unnest(CAST(:statuses AS VARCHAR[]), CAST(:notes AS VARCHAR[])) WITH ORDINALITY AS e(status, note, n)
         ORDER BY e.n
        RETURNING 1
    ), counted AS (
        UPDATE report_groups SET report_count = report_count + 1, last_report_at = GREATEST(last_report_at, :at)
         WHERE id = :group_id AND CAST(:joined AS BOOLEAN) AND EXISTS (SELECT 1 FROM rep)
        RETURNING 1
    )
    SELECT id FROM rep
    """
)


@dataclass(frozen=True, slots=True)
class Claimed:
    """The incident a report belongs to, as the claim found or opened it."""

    id: str
    scope: str
    lead_report_id: str
    case_id: str | None
    status: str
    status_at: datetime | None
    agency: str | None
    expected_at: datetime | None


async def _understand(session: AsyncSession, c: Complaint) -> Understood:
    """Place the complaint in the registry, take the household's names and numbers out of its text, set its
    priority."""
    location = await location_of(session, c.building, c.household)
    priority_resident = bool(c.household and c.household.priority_group)
    measured = c.measured_temp_c if c.measured_temp_c is not None else domain.temperature_in(c.description)
    # Names and phone numbers live once, in the household registry: the report keeps the redacted text only.
    names = [c.household.resident_name] if c.household and c.household.resident_name else []
    numbers = [c.household.phone] if c.household and c.household.phone else []
    return Understood(
        complaint=c,
        report_id=new_id("R"),
        location=location,
        priority=domain.priority_for(c.category, priority_resident=priority_resident, measured_temp_c=measured),
        priority_resident=priority_resident,
        measured_temp_c=measured,
        public_text=domain.redact(c.description, names=names, numbers=numbers)[:2000],
    )


async def _accept(session: AsyncSession, intake: Intake, complaint: Complaint) -> tuple[Report, bool]:
    u = await _understand(session, complaint)
    at = complaint.at
    group, joined = await _group_for(
        session,
        category=complaint.category,
        location=u.location,
        report_id=u.report_id,
        at=at,
        window=intake.group_window,
    )
    statuses: list[str] = [ReportStatus.ACCEPTED]
    if joined:
        statuses.append(TimelineEntry.GROUPED)
        if group.status != ReportStatus.ACCEPTED:  # where the incident stands, so the new reporter hears it at once
            statuses.append(group.status)
    # A report joining an incident already in hand is told what its lead was told: units convened, deadline.
    standing = {
        "status": group.status if joined else ReportStatus.ACCEPTED,
        "status_at": group.status_at if joined else None,
        "case_id": group.case_id if joined else None,
        "agency": group.agency if joined else None,
        "expected_at": group.expected_at if joined else None,
    }
    columns = u.columns()
    location_json = u.location.model_dump(mode="json")
    photo_refs = list(complaint.photo_refs)
    report = Report(
        **columns,
        **standing,
        location=location_json,
        photo_refs=photo_refs,
        reported_at=at,
        updated_at=at,
        group_id=group.id,
    )
    written = await session.scalar(
        _WRITE_REPORT,
        {
            **columns,
            **standing,
            "location": json.dumps(location_json, ensure_ascii=False),
            "photo_refs": json.dumps(photo_refs, ensure_ascii=False),
            "at": at,
            "group_id": group.id,
            "statuses": statuses,
            "notes": [domain.STATUS_NOTES.get(s, s) for s in statuses],
            "joined": joined,
        },
    )
    if written is None:
        return report, False  # a duplicate: ``accept`` rolls the savepoint back and answers with the first one
    if joined:
        grouped = u.grouped(
            group_id=group.id, lead_report_id=group.lead_report_id, case_id=group.case_id, scope=group.scope
        )
        await intake.writer.emit(
            session, grouped, key=u.key, at=at, correlation_id=group.case_id or group.lead_report_id
        )
        after_commit(session, metrics.REPORTS_GROUPED.labels(group.scope).inc)
    else:
        await intake.writer.emit(session, u.reported(group_id=group.id), key=u.key, at=at, correlation_id=u.report_id)
    after_commit(session, metrics.REPORTS_RECEIVED.labels(complaint.channel.value, complaint.category.value).inc)
    return report, True


async def _group_for(
    session: AsyncSession,
    *,
    category: Category,
    location: Location,
    report_id: str,
    at: datetime,
    window: timedelta,
) -> tuple[Claimed, bool]:
    """The open incident this report joins, or the one it opens. Returns (group, joined).

    One statement locks the candidate groups (in key order, so two claims never wait on each other in a cycle) and
    opens the report's own group when none is open. A group whose window has passed is retired and the claim
    runs again; so does a claim that lost the race to open the group (it then finds and joins the winner's)."""
    candidates, own = domain.group_keys(
        category,
        household_id=location.household_id,
        building_id=location.building_id,
        substation_id=location.substation_id,
    )
    params = {
        "keys": [k.key for k in candidates],
        "id": new_id("G"),
        "key": own.key,
        "scope": own.scope,
        "scope_id": own.scope_id,
        "category": category.value,
        "lead": report_id,
        "at": at,
    }
    for _ in range(len(candidates) + 2):
        rows = (await session.execute(_CLAIM_GROUP, params)).all()
        for row in rows:
            if row.created:
                return _claimed(row), False
        # Nothing found and nothing opened: a concurrent claim opened it (we waited for its commit); run again.
        by_key = {found.key: found for found in rows}
        for candidate in candidates:
            match = by_key.get(candidate.key)
            if match is None:
                continue
            if domain.joinable(candidate, last_report_at=match.last_report_at, now=at, window=window):
                return _claimed(match), True
            await session.execute(_RETIRE_GROUP, {"id": match.id})  # quiet too long: a new incident begins
    raise RuntimeError(f"could not claim an incident for {own.key}")


def _claimed(row: Any) -> Claimed:
    return Claimed(
        id=row.id,
        scope=row.scope,
        lead_report_id=row.lead_report_id,
        case_id=row.case_id,
        status=row.status,
        status_at=row.status_at,
        agency=row.agency,
        expected_at=row.expected_at,
    )


# -- reading ---------------------------------------------------------------------------------------------------


async def get(session: AsyncSession, *, report_id: str) -> tuple[Report, list[ReportEvent]]:
    report = await session.get(Report, report_id)
    if report is None:
        raise NotFound("report", texts.REPORT_NOT_FOUND)
    return report, await timeline(session, report_id=report_id)


async def timeline(session: AsyncSession, *, report_id: str) -> list[ReportEvent]:
    events = await session.scalars(
        select(ReportEvent).where(ReportEvent.report_id == report_id).order_by(ReportEvent.at, ReportEvent.id)
    )
    return list(events.all())


async def group_of(session: AsyncSession, *, group_id: str) -> tuple[ReportGroup, list[str]]:
    group = await session.get(ReportGroup, group_id)
    if group is None:
        raise NotFound("group", texts.REPORT_NOT_FOUND)
    ids = (
        await session.scalars(select(Report.id).where(Report.group_id == group_id).order_by(Report.reported_at))
    ).all()
    return group, list(ids)
