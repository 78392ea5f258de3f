"""Dispatch HTTP API: the unit console (签收, 到场, 办结), case views, and the admin registry of units."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch import messages, service
from services.dispatch.models import Assignment, Case
from services.dispatch.schemas import AssignmentOut, CaseEventOut, CaseOut, ResolveIn, UnitsIn
from shared.auth import AdminOnly, CurrentPrincipal, Principal, Role, require
from shared.clock import Clock
from shared.errors import ApiError
from shared.outbox import OutboxWriter

router = APIRouter()


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.runtime.sessions() as session, session.begin():
        yield session


Session = Annotated[AsyncSession, Depends(_session)]


def _writer(request: Request) -> OutboxWriter:
    return request.app.state.writer  # type: ignore[no-any-return]


def _clock(request: Request) -> Clock:
    return request.app.state.clock  # type: ignore[no-any-return]


Writer = Annotated[OutboxWriter, Depends(_writer)]
Now = Annotated[Clock, Depends(_clock)]


def _unit(principal: Principal) -> str:
    require(principal, Role.UNIT)
    return principal.sub


def _out(a: Assignment, clock: Clock) -> AssignmentOut:
    out = AssignmentOut.model_validate(a)
    due = {
        "dispatched": ("sign_in", a.sign_in_due),
        "signed_in": ("on_site", a.on_site_due),
        "on_site": ("resolve", a.resolve_due),
    }.get(a.status)
    if due is not None:
        out.clock, out.seconds_left = due[0], (due[1] - clock.now()).total_seconds()
    return out


@router.get("/v1/assignments", response_model=list[AssignmentOut], tags=["unit console"])
async def my_assignments(
    principal: CurrentPrincipal, session: Session, clock: Now, include_done: bool = False
) -> list[AssignmentOut]:
    """The calling unit's assignments, the nearest deadline first."""
    unit_id = _unit(principal)
    rows = await service.list_for_unit(session, unit_id=unit_id, include_done=include_done)
    return [_out(a, clock) for a in rows]


@router.get("/v1/assignments/{assignment_id}", response_model=AssignmentOut, tags=["unit console"])
async def my_assignment(assignment_id: str, principal: CurrentPrincipal, session: Session, clock: Now) -> AssignmentOut:
    a = await service.get_for_unit(session, assignment_id=assignment_id, unit_id=_unit(principal))
    return _out(a, clock)


@router.post("/v1/assignments/{assignment_id}/sign-in", response_model=AssignmentOut, tags=["unit console"])
async def sign_in(
    assignment_id: str, principal: CurrentPrincipal, session: Session, writer: Writer, clock: Now
) -> AssignmentOut:
    """签收 / 报到: the unit takes the assignment."""
    a = await service.sign_in(session, writer, assignment_id=assignment_id, unit_id=_unit(principal), at=clock.now())
    return _out(a, clock)


@router.post("/v1/assignments/{assignment_id}/arrive", response_model=AssignmentOut, tags=["unit console"])
async def arrive(
    assignment_id: str, principal: CurrentPrincipal, session: Session, writer: Writer, clock: Now
) -> AssignmentOut:
    """到场: the unit is on site."""
    a = await service.arrive(session, writer, assignment_id=assignment_id, unit_id=_unit(principal), at=clock.now())
    return _out(a, clock)


@router.post("/v1/assignments/{assignment_id}/resolve", response_model=AssignmentOut, tags=["unit console"])
async def resolve(
    assignment_id: str, body: ResolveIn, principal: CurrentPrincipal, session: Session, writer: Writer, clock: Now
) -> AssignmentOut:
    """办结 (unit side): what was done; the case then waits for the return visit."""
    a = await service.resolve(
        session,
        writer,
        assignment_id=assignment_id,
        unit_id=_unit(principal),
        at=clock.now(),
        action_taken=body.action_taken,
        measured_temp_c=body.measured_temp_c,
        photo_refs=body.photo_refs,
    )
    return _out(a, clock)


def _may_see(principal: Principal, case: Case, assignments: list[Assignment]) -> bool:
    if principal.role in (Role.ADMIN,):
        return True
    if principal.role is Role.DISTRICT:
        return principal.scope == case.district_id
    if principal.role is Role.TASK_FORCE:
        return principal.scope == case.street_id
    if principal.role is Role.UNIT:
        return any(a.unit_id == principal.sub for a in assignments)
    return False


@router.get("/v1/cases/{case_id}", response_model=CaseOut, tags=["cases"])
async def get_case(case_id: str, principal: CurrentPrincipal, session: Session, clock: Now) -> CaseOut:
    """A case with its assignments and timeline (发现→上报→调度→处置→反馈)."""
    case, assignments, events = await service.get_case(session, case_id=case_id)
    if not _may_see(principal, case, assignments):
        raise ApiError(404, "case_not_found", messages.CASE_NOT_FOUND)
    out = CaseOut.model_validate(case)
    if principal.role is Role.UNIT:
        assignments = [a for a in assignments if a.unit_id == principal.sub]
    out.assignments = [_out(a, clock) for a in assignments]
    out.timeline = [CaseEventOut.model_validate(e) for e in events]
    return out


@router.put("/admin/units", tags=["admin"], dependencies=[AdminOnly])
async def put_units(body: UnitsIn, session: Session) -> dict[str, int]:
    """Load or update the registry of units and what each serves. Idempotent."""
    count = await service.load_units(session, units=[u.model_dump() for u in body.units])
    return {"units": count}
