"""What a case's facts tell its reports, on the real PostgreSQL: ``feedback.set_case_status`` tells every report of
the case in one statement after the locks (the timeline entry, the status a fact not older than the report's moves
it to, the incident, the 12345 callbacks owed); ``feedback.note_assignment`` adds a unit convened to every report of
the case in one statement (the units' ids, their types, the latest resolve deadline), and takes a withdrawn one out
again; the public status view reads the same columns."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import feedback
from services.intake.models import HotlineCallback, Report, ReportEvent, ReportGroup
from services.intake.states import ReportStatus, TimelineEntry
from shared.contracts.common import UnitType
from tests.harness import InProcess, statements_of
from tests.integration.conftest import Loop

pytestmark = pytest.mark.integration

AT = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


@pytest.fixture
def intake(loop: Loop) -> InProcess:
    """The tier's running intake: the reports here belong to cases no event names, so its consumers leave them be."""
    return loop.intake


def _report(case_id: str, **columns: object) -> Report:
    columns = {"status": "dispatched", "reported_at": AT, **columns}
    return Report(
        id=f"R-{uuid.uuid4().hex[:12]}",
        channel="grid_report",
        category="cold_room",
        priority="normal",
        priority_resident=False,
        building_id="B-1",
        location={"district_id": "D-1", "building_id": "B-1"},
        description="不热",
        reporter_kind="grid_worker",
        case_id=case_id,
        **columns,
    )


async def test_each_unit_convened_is_noted_once_on_every_report_of_its_case(intake: InProcess) -> None:
    case_id, other_case = f"C-{uuid.uuid4().hex[:8]}", f"C-{uuid.uuid4().hex[:8]}"
    later = AT + timedelta(hours=48)
    async with intake.runtime.sessions() as session, session.begin():
        session.add_all([_report(case_id), _report(case_id, expected_at=later), _report(other_case)])

    async def note(unit_id: str, unit_type: UnitType, due: datetime | None, *, removed: bool = False) -> int:
        async with intake.runtime.sessions() as session, session.begin():
            return await feedback.note_assignment(
                session, case_id=case_id, unit_id=unit_id, unit_type=unit_type, resolve_due=due, removed=removed
            )

    async def rows() -> list[tuple[str | None, dict[str, str], datetime | None]]:
        async with intake.runtime.sessions() as session:
            found = await session.execute(
                select(Report.agency, Report.handling, Report.expected_at)
                .where(Report.case_id == case_id)
                .order_by(Report.expected_at.nulls_first())
            )
            return [(a, h, e) for a, h, e in found]

    assert await note("U-HEAT-1", UnitType.HEATING_COMPANY, AT + timedelta(hours=24)) == 2
    assert await rows() == [
        ("U-HEAT-1", {"U-HEAT-1": "heating_company"}, AT + timedelta(hours=24)),
        ("U-HEAT-1", {"U-HEAT-1": "heating_company"}, later),  # a later deadline stays
    ]
    # The same unit again (a redelivered assignment, a new round) adds nothing; a second unit is appended, and a
    # deadline of None moves nothing.
    await note("U-HEAT-1", UnitType.HEATING_COMPANY, AT + timedelta(hours=30))
    await note("U-PM-1", UnitType.PROPERTY_MANAGER, None)
    both = {"U-HEAT-1": "heating_company", "U-PM-1": "property_manager"}
    assert await rows() == [
        ("U-HEAT-1,U-PM-1", both, AT + timedelta(hours=30)),
        ("U-HEAT-1,U-PM-1", both, later),
    ]
    # A withdrawn unit leaves; the other case's report heard none of it.
    await note("U-HEAT-1", UnitType.HEATING_COMPANY, None, removed=True)
    assert [(a, h) for a, h, _ in await rows()] == [("U-PM-1", {"U-PM-1": "property_manager"})] * 2
    async with intake.runtime.sessions() as session:
        untouched = await session.scalar(select(Report.agency).where(Report.case_id == other_case))
    assert untouched is None


async def test_the_units_list_stops_at_its_column_size(intake: InProcess) -> None:
    case_id = f"C-{uuid.uuid4().hex[:8]}"
    async with intake.runtime.sessions() as session, session.begin():
        session.add(_report(case_id, agency=",".join(f"U-{n:06d}" for n in range(40))[:295]))
    async with intake.runtime.sessions() as session, session.begin():
        await feedback.note_assignment(
            session, case_id=case_id, unit_id="U-LAST-ONE", unit_type=UnitType.HOUSING_BUREAU, resolve_due=None
        )
    async with intake.runtime.sessions() as session:
        agency = await session.scalar(select(Report.agency).where(Report.case_id == case_id))
    assert agency is not None and len(agency) == 300 and agency.endswith(",U-LA")


async def test_a_case_s_fact_is_told_to_its_reports_in_one_statement_after_the_incident_s_lock(
    intake: InProcess,
) -> None:
    """Every report of the case but the withdrawn one gets the entry, at the time it joined if it joined after the
    fact; a fact moves the reports it is not older than, and the incident with them; the 12345 report is owed a
    callback for each fact that is news to it, numbered in order. A stale fact, an escalation (moves nothing) and the
    closure follow."""
    case_id = f"C-{uuid.uuid4().hex[:8]}"
    t0 = AT
    plain, hotline = (
        _report(case_id, status_at=t0),
        _report(case_id, status_at=t0, integration_id="IT-FB", order_no=f"O-{case_id}"),
    )
    gone = _report(case_id, status="withdrawn", status_at=t0)
    late = _report(case_id, status_at=t0, reported_at=t0 + timedelta(minutes=20))
    other = _report(f"C-{uuid.uuid4().hex[:8]}", status_at=t0)
    group = ReportGroup(
        id=f"G-{uuid.uuid4().hex[:10]}",
        key=f"household:H-FB:cold_room:{case_id}",
        scope="household",
        scope_id="H-FB",
        category="cold_room",
        lead_report_id=plain.id,
        case_id=case_id,
        status="dispatched",
        accepting=True,
        report_count=3,
        opened_at=t0,
        last_report_at=t0,
        status_at=t0,
    )
    async with intake.runtime.sessions() as session, session.begin():
        session.add(group)
        await session.flush()
        session.add_all([plain, hotline, gone, late, other])

    async def tell(status: str, at: datetime, **extra: object) -> tuple[int, list[str]]:
        with statements_of(intake.runtime.engine) as sent:
            async with intake.runtime.sessions() as session, session.begin():
                await sent.watch(session)
                told = await feedback.set_case_status(
                    session, case_id=case_id, status=status, at=at, calls_back=frozenset({"IT-FB"}), **extra
                )
        return told, [" ".join(s.split(" ")[:2]) for s in sent.seen]

    async def state(session: AsyncSession) -> dict[str, tuple[str, datetime | None]]:
        found = await session.execute(
            select(Report.id, Report.status, Report.status_at).where(Report.case_id == case_id)
        )
        return {i: (st, at) for i, st, at in found}

    def moved_to(status: str, at: datetime) -> dict[str, tuple[str, datetime | None]]:
        """Every report of the case at ``status``, but the withdrawn one, which hears nothing."""
        return {plain.id: (status, at), hotline.id: (status, at), gone.id: ("withdrawn", t0), late.id: (status, at)}

    t1 = t0 + timedelta(minutes=10)
    told, statements = await tell(ReportStatus.SIGNED_IN, t1)
    assert told == 3
    # the incident's lock, the one statement, and the callback (its number, its row)
    assert statements[:2] == ["SELECT report_groups.id", "WITH told"], statements
    assert len(statements) == 4
    async with intake.runtime.sessions() as session:
        assert await state(session) == moved_to("signed_in", t1)
        entries = (
            await session.execute(
                select(ReportEvent.report_id, ReportEvent.status, ReportEvent.at)
                .where(ReportEvent.report_id.in_([plain.id, hotline.id, gone.id, late.id, other.id]))
                .order_by(ReportEvent.id)
            )
        ).all()
        assert [tuple(e) for e in entries] == [
            (r.id, "signed_in", at)
            for r, at in sorted([(plain, t1), (hotline, t1), (late, late.reported_at)], key=lambda x: x[0].id)
        ]
        incident = await session.get(ReportGroup, group.id)
        assert incident is not None and (incident.status, incident.status_at, incident.accepting) == (
            "signed_in",
            t1,
            True,
        )

    # A fact older than what the reports show (a resolution that overtook nothing): entries, no move, no callback.
    await tell(ReportStatus.RESOLVED, t1 - timedelta(minutes=5))
    # An escalation tells without moving: the hotline report hears it (it is not stale).
    await tell(TimelineEntry.ESCALATED, t1 + timedelta(minutes=5), moves=False, status_text="已催办")
    t2 = t1 + timedelta(hours=3)
    await tell(ReportStatus.CLOSED, t2)
    async with intake.runtime.sessions() as session:
        assert await state(session) == moved_to("closed", t2)
        incident = await session.get(ReportGroup, group.id)
        assert incident is not None
        assert (incident.status, incident.accepting, incident.closed_at) == ("closed", False, t2)
        callbacks = (
            await session.execute(
                select(HotlineCallback.seq, HotlineCallback.status, HotlineCallback.payload)
                .where(HotlineCallback.report_id == hotline.id)
                .order_by(HotlineCallback.seq)
            )
        ).all()
        assert [(seq, status) for seq, status, _ in callbacks] == [(1, "signed_in"), (2, "escalated"), (3, "closed")]
        assert callbacks[1][2]["status_text"] == "已催办" and callbacks[2][2]["case_id"] == case_id
        kept = await session.execute(select(Report.status, Report.status_at).where(Report.id == other.id))
        assert tuple(kept.one()) == ("dispatched", t0)
        heard_by_gone = await session.scalar(select(ReportEvent.id).where(ReportEvent.report_id == gone.id))
        assert heard_by_gone is None
