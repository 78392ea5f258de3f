"""What a case's assignments tell its reports, on the real PostgreSQL: ``feedback.note_assignment`` adds a unit
convened to every report of the case in one statement (the units' ids, their types, the latest resolve deadline),
and takes a withdrawn one out again; the public status view reads the same columns."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from services.intake import feedback
from services.intake.models import Report
from shared.contracts.common import UnitType
from tests.harness import InProcess
from tests.integration.conftest import Loop

pytestmark = pytest.mark.integration

AT = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


@pytest.fixture
def intake(loop: Loop) -> InProcess:
    """The tier's running intake: the reports here belong to cases no event names, so its consumers leave them be."""
    return loop.intake


def _report(case_id: str, **columns: object) -> Report:
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
        reported_at=AT,
        status="dispatched",
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
