"""事事有回音: what a case's changes tell its reports. Every report of the case (a grouped incident's too) gets the
timeline entry; reports from 12345 get a status callback queued; closure closes the incident and rearms sensors."""

from __future__ import annotations

from collections.abc import Set
from datetime import datetime
from typing import Protocol

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import domain, texts
from services.intake.models import HotlineCallback, Report, ReportGroup, Sensor
from services.intake.states import CallbackState, ReportStatus, Told
from shared.contracts.common import UnitType


async def link_case(
    session: AsyncSession, *, case_id: str, report_ids: list[str], at: datetime, calls_back: Set[str]
) -> int:
    """A case was opened for these reports: they and every report grouped with them belong to it. The incidents are
    linked first, in their own statement (locked by it, in the order every writer takes them: incidents, then
    reports), so the status below need not lock them again."""
    group_ids = select(Report.group_id).where(Report.id.in_(report_ids), Report.group_id.is_not(None))
    await session.execute(update(ReportGroup).where(ReportGroup.id.in_(group_ids)).values(case_id=case_id))
    await session.execute(
        update(Report)
        .where(or_(Report.id.in_(report_ids), Report.group_id.in_(group_ids)))
        .values(case_id=case_id)
        .execution_options(synchronize_session=False)
    )
    return await set_case_status(
        session, case_id=case_id, status=ReportStatus.DISPATCHED, at=at, calls_back=calls_back, incidents_locked=True
    )


# ``set_case_status`` in one statement, once the incidents (and on closure the sensors) are locked: the case's reports
# but the withdrawn, locked in id order (the order every writer of a case's reports takes them in, the ORM's flush by
# primary key too), FOR NO KEY UPDATE (the lock an UPDATE of non-key columns takes, so a timeline entry referencing a
# report is not held up). Each gets the timeline entry (at the time it joined, if it joined after the fact); those the
# fact is not older than move to it (``moves``), and then so do the case's incidents; a closure stops the incidents
# accepting and rearms the sensors whose alarms the reports were. What comes back: which reports are owed a 12345
# callback. The incidents and sensors it writes are already locked by this transaction, so it takes no lock out of
# order.
TELL_CASE = text(
    """
    WITH told AS (
        SELECT id, integration_id, order_no, case_id, reported_at,
               (status_at IS NULL OR status_at <= CAST(:at AS timestamptz)) AS fresh
          FROM reports
         WHERE case_id = :case_id AND status <> :withdrawn
         ORDER BY id
           FOR NO KEY UPDATE
    ), moved AS (
        UPDATE reports AS r
           SET status = :status, status_at = CAST(:at AS timestamptz),
               updated_at = GREATEST(r.updated_at, CAST(:at AS timestamptz))
          FROM told
         WHERE r.id = told.id AND told.fresh AND CAST(:moves AS boolean)
        RETURNING r.id
    ), entries AS (
        INSERT INTO report_events (report_id, status, note, at)
        SELECT id, :status, :note, GREATEST(CAST(:at AS timestamptz), reported_at) FROM told ORDER BY id
    ), incidents AS (
        UPDATE report_groups
           SET status = :status, status_at = CAST(:at AS timestamptz),
               accepting = accepting AND NOT CAST(:closing AS boolean),
               closed_at = CASE WHEN CAST(:closing AS boolean) THEN CAST(:at AS timestamptz) ELSE closed_at END
         WHERE case_id = :case_id AND EXISTS (SELECT 1 FROM moved)
    ), rearmed AS (
        UPDATE sensors SET alert_report_id = NULL, cold_since = NULL
         WHERE CAST(:closing AS boolean) AND alert_report_id IN (SELECT id FROM told)
    )
    SELECT id, integration_id, order_no, case_id, fresh FROM told ORDER BY id
    """
)


class Owed(Protocol):
    """What a 12345 callback is numbered and addressed by: a report (the ORM's, or a row ``TELL_CASE`` returned)."""

    @property
    def id(self) -> str: ...
    @property
    def integration_id(self) -> str | None: ...
    @property
    def order_no(self) -> str | None: ...
    @property
    def case_id(self) -> str | None: ...


async def set_case_status(
    session: AsyncSession,
    *,
    case_id: str,
    status: Told,
    at: datetime,
    calls_back: Set[str],
    note: str | None = None,
    status_text: str | None = None,
    moves: bool = True,
    incidents_locked: bool = False,
) -> int:
    """Tell every report of the case what happened (grouped reports all hear it), queue the 12345 callbacks of
    those that came from an integration in ``calls_back`` (those with a callback URL: an integration without one is
    owed nothing, so nothing waits for it), and close the incident on closure. ``moves=False``: a timeline entry
    only (an escalation does not change where the case stands). ``status_text``: what 12345 reads, if not the
    status's own text (an escalation's step: 已催办 / 已通报 / 已督办). A withdrawn report (撤单) hears nothing more.
    ``incidents_locked``: the caller's transaction already holds the case's incidents (``link_case``).

    The cases and verdicts topics are consumed independently, so a fact can arrive after a later one (a resolution
    after the closure it led to): it joins the timeline at its time but moves nothing, and 12345 never hears it.
    Returns how many reports heard it."""
    closing = status == ReportStatus.CLOSED
    if closing:
        # Sensors before incidents, the order a sensor batch takes them in (it locks its sensors, then claims an
        # incident for an alarm): the other order deadlocks with a batch whose alarm joins this case.
        await session.execute(
            select(Sensor.id)
            .where(Sensor.alert_report_id.in_(select(Report.id).where(Report.case_id == case_id)))
            .order_by(Sensor.id)
            .with_for_update()
        )
    # Then the case's incidents: a report joining one holds the same lock (the claim is FOR UPDATE), so it either
    # commits before this read sees the reports, or waits and finds the incident closed.
    if not incidents_locked:
        await session.execute(
            select(ReportGroup.id).where(ReportGroup.case_id == case_id).order_by(ReportGroup.id).with_for_update()
        )
    told = note or domain.STATUS_NOTES[status]
    reports = (
        await session.execute(
            TELL_CASE,
            {
                "case_id": case_id,
                "withdrawn": ReportStatus.WITHDRAWN.value,
                "status": str(status),
                "note": told,
                "at": at,
                "moves": moves,
                "closing": closing,
            },
        )
    ).all()
    for report in reports:
        if report.fresh and report.integration_id in calls_back:  # 12345 never hears a stale status last
            await queue_callback(session, report=report, status=status, note=told, at=at, status_text=status_text)
    return len(reports)


async def queue_callback(
    session: AsyncSession, *, report: Owed, status: Told, note: str, at: datetime, status_text: str | None = None
) -> None:
    """The next callback of the report's 12345 order (numbered after the order's last)."""
    assert report.integration_id is not None and report.order_no is not None
    seq = (
        await session.scalar(
            select(func.coalesce(func.max(HotlineCallback.seq), 0)).where(
                HotlineCallback.integration_id == report.integration_id, HotlineCallback.order_no == report.order_no
            )
        )
        or 0
    ) + 1
    session.add(
        HotlineCallback(
            integration_id=report.integration_id,
            order_no=report.order_no,
            report_id=report.id,
            seq=seq,
            status=status,
            payload={
                "order_no": report.order_no,
                "report_id": report.id,
                "case_id": report.case_id,
                "seq": seq,
                "status": status,
                "status_text": status_text or texts.HOTLINE_STATUS_TEXT.get(status, status),
                "note": note,
                "occurred_at": at.isoformat(),
            },
            state=CallbackState.PENDING,
            attempts=0,
            next_attempt_at=at,
        )
    )
    await session.flush()


# ``note_assignment`` of a unit convened, for every report of the case: the unit added to ``agency`` (comma-separated,
# at most 300 characters) unless already there, its type to ``handling``, and its resolve deadline to ``expected_at``
# if later (``note_deadline``). The rows are locked in id order first, the order every other writer of a case's
# reports takes them in (the ORM flushes by primary key), so two handlers of one case never deadlock.
NOTE_UNIT = text(
    """
    UPDATE reports SET
        agency = left(CASE WHEN coalesce(agency, '') = '' THEN CAST(:unit_id AS text)
                           WHEN CAST(:unit_id AS text) = ANY(string_to_array(agency, ',')) THEN agency
                           ELSE agency || ',' || CAST(:unit_id AS text) END, 300),
        handling = coalesce(handling, CAST('{}' AS jsonb))
                   || jsonb_build_object(CAST(:unit_id AS text), CAST(:unit_type AS text)),
        expected_at = CASE WHEN CAST(:resolve_due AS timestamptz) IS NOT NULL
                            AND (expected_at IS NULL OR CAST(:resolve_due AS timestamptz) > expected_at)
                           THEN CAST(:resolve_due AS timestamptz) ELSE expected_at END
     WHERE id IN (SELECT id FROM reports WHERE case_id = :case_id ORDER BY id FOR UPDATE)
    """
)


async def note_assignment(
    session: AsyncSession,
    *,
    case_id: str,
    unit_id: str,
    unit_type: UnitType,
    resolve_due: datetime | None,
    removed: bool = False,
) -> int:
    """Which units answer for the case (Open311's agency_responsible; their types for the public status view) and
    by when (expected_datetime, the public view's deadline). A unit convened is added in one statement for every
    report of the case (the reports are not read: this runs once per assignment); a unit removed, rarely, in
    Python."""
    if not removed:
        noted = await session.execute(
            NOTE_UNIT,
            {"case_id": case_id, "unit_id": unit_id, "unit_type": unit_type.value, "resolve_due": resolve_due},
        )
        return int(getattr(noted, "rowcount", 0) or 0)
    reports = (await session.scalars(select(Report).where(Report.case_id == case_id))).all()
    for report in reports:
        units = [u for u in (report.agency or "").split(",") if u]
        handling = dict(report.handling or {})
        if removed:
            units = [u for u in units if u != unit_id]
            handling.pop(unit_id, None)
        else:
            if unit_id not in units:
                units.append(unit_id)
            handling[unit_id] = unit_type.value
        report.agency = ",".join(units)[:300] or None
        report.handling = handling
        note_deadline(report, resolve_due)
    return len(reports)


def note_deadline(report: Report, resolve_due: datetime | None) -> None:
    """The report's deadline: the latest resolve deadline of its case's units (an approved 延期 moves it on)."""
    if resolve_due is not None and (report.expected_at is None or resolve_due > report.expected_at):
        report.expected_at = resolve_due


async def note_extension(session: AsyncSession, *, case_id: str, resolve_due: datetime | None) -> int:
    """An approved 延期 moved a unit's resolve deadline: the reports' deadline follows (``None``: refused, nothing
    moves). Returns how many reports the case has."""
    reports = (await session.scalars(select(Report).where(Report.case_id == case_id))).all()
    for report in reports:
        note_deadline(report, resolve_due)
    return len(reports)


async def withdraw_units(session: AsyncSession, *, case_id: str) -> int:
    """The case was re-tiered: the units of the round were withdrawn (they no longer answer for it, nor reach its
    resident); the new tier's units follow as CaseAssigned. Returns how many reports the case has."""
    result = await session.execute(
        update(Report)
        .where(Report.case_id == case_id)
        .values(agency=None, handling={})
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
