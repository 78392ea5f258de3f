"""延期: units ask for more time; the street task force approves (the clock moves) or refuses."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch import metrics, texts
from services.dispatch.access import actor_name, get_for_actor
from services.dispatch.calendar_years import work_calendar
from services.dispatch.clocks import reminder
from services.dispatch.domain import Clock
from services.dispatch.effects import Changed, apply
from services.dispatch.models import (
    Assignment,
    Case,
    Extension,
)
from services.dispatch.rules import current_rules
from services.dispatch.states import ASSIGNMENT, EXTENSION, OPEN, ExtensionStatus
from services.dispatch.timeline import Happened
from shared.auth import Principal
from shared.contracts.dispatch import (
    ExtensionDecided,
    ExtensionRequested,
)
from shared.errors import Conflict, Forbidden, Invalid, NotFound
from shared.ids import new_id
from shared.outbox import OutboxWriter
from shared.scope import SUPERVISORS, area_filter, oversees

# -- 延期 ------------------------------------------------------------------------------------------------


async def request_extension(
    session: AsyncSession,
    writer: OutboxWriter,
    *,
    assignment_id: str,
    principal: Principal,
    reason: str,
    resolve_due: datetime,
    at: datetime,
) -> Extension:
    a = await get_for_actor(session, assignment_id=assignment_id, principal=principal)
    ASSIGNMENT.check("request_extension", a.status)
    if resolve_due <= a.resolve_due:
        raise Invalid("extension_not_later", texts.EXTENSION_NOT_LATER, "resolve_due")
    pending = await session.scalar(
        select(Extension).where(Extension.assignment_id == a.id, Extension.status == ExtensionStatus.PENDING)
    )
    if pending is not None:
        raise Conflict("extension_pending", texts.EXTENSION_PENDING)
    case = await session.get(Case, a.case_id)
    assert case is not None
    ext = Extension(
        id=new_id("E"),
        assignment_id=a.id,
        case_id=a.case_id,
        unit_id=a.unit_id,
        street_id=case.street_id,
        reason=reason,
        requested_resolve_due=resolve_due,
        status=ExtensionStatus.PENDING,
        requested_at=at,
    )
    session.add(ext)
    requested = ExtensionRequested(
        case_id=a.case_id,
        assignment_id=a.id,
        unit_id=a.unit_id,
        extension_id=ext.id,
        reason=reason,
        requested_resolve_due=resolve_due,
        requested_at=at,
    )
    detail = {"assignment_id": a.id, "extension_id": ext.id, "reason": reason, "resolve_due": resolve_due.isoformat()}
    await apply(
        session,
        writer,
        Changed(
            case_id=a.case_id,
            happened=Happened.EXTENSION_REQUESTED,
            actor=actor_name(principal),
            at=at,
            detail=detail,
            event=requested,
        ),
    )
    return ext


async def list_extensions(session: AsyncSession, *, principal: Principal, status: str | None) -> list[Extension]:
    q = select(Extension).join(Case, Case.id == Extension.case_id)
    if principal.role not in SUPERVISORS:
        raise Forbidden("forbidden", texts.TASK_FORCE_ONLY, "Authorization")
    q = q.where(area_filter(principal, district=Case.district_id, street=Case.street_id))
    if status:
        q = q.where(Extension.status == status)
    return list((await session.scalars(q.order_by(Extension.requested_at))).all())


async def decide_extension(
    session: AsyncSession,
    writer: OutboxWriter,
    *,
    extension_id: str,
    principal: Principal,
    approved: bool,
    note: str | None,
    at: datetime,
) -> Extension:
    """The street task force approves (deadline and timers move) or refuses (nothing moves)."""
    ext = await session.get(Extension, extension_id, with_for_update=True)
    if ext is None:
        raise NotFound("extension", texts.EXTENSION_NOT_FOUND)
    case = await session.get(Case, ext.case_id)
    assert case is not None
    if not oversees(principal, district_id=case.district_id, street_id=case.street_id):
        raise NotFound("extension", texts.EXTENSION_NOT_FOUND)
    decided = EXTENSION.move("approve" if approved else "refuse", ext.status)
    a = await session.get(Assignment, ext.assignment_id, with_for_update=True)
    assert a is not None
    ext.status, ext.decided_by, ext.decided_at, ext.decision_note = (
        decided,
        actor_name(principal),
        at,
        note,
    )
    moved = approved and a.status in OPEN
    if moved:
        a.resolve_due = ext.requested_resolve_due
        length = await _resolve_length(session, a)
    await apply(
        session,
        writer,
        Changed(
            case_id=ext.case_id,
            happened=Happened.EXTENSION_DECIDED,
            actor=actor_name(principal),
            at=at,
            detail={"extension_id": ext.id, "approved": approved, "resolve_due": a.resolve_due.isoformat()},
            event=ExtensionDecided(
                case_id=ext.case_id,
                assignment_id=a.id,
                unit_id=a.unit_id,
                extension_id=ext.id,
                approved=approved,
                decided_by=actor_name(principal),
                resolve_due=a.resolve_due,
                decided_at=at,
            ),
            metrics=(metrics.EXTENSIONS.labels(case.district_id, a.unit_type, ext.status).inc,),
            # The resolve clock moves: its timers are stopped and its 催办 armed at the new deadline.
            stops=(a.id, (Clock.RESOLVE,)) if moved else None,
            arms=(reminder(a.id, Clock.RESOLVE, a.resolve_due, length, working=a.working_time),) if moved else (),
        ),
    )
    return ext


async def _resolve_length(session: AsyncSession, a: Assignment) -> timedelta:
    """A moved resolve clock's length, which spaces its 通报 and 督办: working time on the calendar for an assignment
    whose clocks run on working days, else time around the clock."""
    if not a.working_time:
        return a.resolve_due - a.dispatched_at
    _, rules = await current_rules(session)
    return (await work_calendar(session, rules)).between(a.dispatched_at, a.resolve_due)
