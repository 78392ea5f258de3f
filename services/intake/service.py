"""Intake use cases. Each takes the session of one transaction; the caller commits.

``_accept`` is the one path every channel ends in: place (registry enrichment), priority, grouping, the report
row, its timeline and its event, all in the caller's transaction, so nothing is acknowledged before it is durable.
The registry's answers (``place``, ``location_of``) are in ``registry``; the incident claim and the report's
statement in ``incidents``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import domain, incidents, metrics, registry, texts
from services.intake.complaint import Complaint, Understood
from services.intake.models import Report, ReportEvent, ReportGroup
from services.intake.schemas import GridReportIn
from services.intake.states import ReportStatus, TimelineEntry
from shared.auth import Principal, Role
from shared.contracts.common import Channel
from shared.db import after_commit
from shared.effects import Effect, apply, count
from shared.errors import Forbidden, NotFound
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
    building, household = await registry.place(session, body.household_id, body.building_id)
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


async def _understand(session: AsyncSession, c: Complaint) -> Understood:
    """Place the complaint in the registry, take the household's names and numbers out of its text, set its
    priority."""
    location = await registry.location_of(session, c.building, c.household)
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
    group, joined = await incidents.group_for(
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
        "handling": (group.handling or {}) if joined else {},
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
        incidents.WRITE_REPORT,
        {
            **columns,
            **standing,
            "location": json.dumps(location_json, ensure_ascii=False),
            "photo_refs": json.dumps(photo_refs, ensure_ascii=False),
            "handling": json.dumps(standing["handling"]),
            "at": at,
            "group_id": group.id,
            "statuses": statuses,
            "notes": [domain.STATUS_NOTES.get(s, s) for s in statuses],
            "joined": joined,
        },
    )
    if written is None:
        return report, False  # a duplicate: ``accept`` rolls the savepoint back and answers with the first one
    received = count(metrics.REPORTS_RECEIVED.labels(complaint.channel.value, complaint.category.value).inc)
    if joined:
        effect = Effect(
            at=at,
            event=u.grouped(
                group_id=group.id, lead_report_id=group.lead_report_id, case_id=group.case_id, scope=group.scope
            ),
            key=u.key,
            correlation_id=group.case_id or group.lead_report_id,
            metrics=(count(metrics.REPORTS_GROUPED.labels(group.scope).inc), received),
        )
    else:
        effect = Effect(
            at=at, event=u.reported(group_id=group.id), key=u.key, correlation_id=u.report_id, metrics=(received,)
        )
    await apply(session, intake.writer, effect)
    return report, True


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
