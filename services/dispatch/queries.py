"""Reading cases: one case with its timeline, and the street's or district's list, overdue first."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch import texts
from services.dispatch.access import may_see_case
from services.dispatch.models import (
    Assignment,
    Case,
    CaseEvent,
    Extension,
)
from services.dispatch.states import CASE_FILTERS, OPEN, AssignmentStatus, CaseStatus
from shared.auth import Principal, Role
from shared.errors import Forbidden, Invalid, NotFound
from shared.scope import SUPERVISORS, area_filter
from shared.states import values

# -- reading cases ---------------------------------------------------------------------------------------


async def get_case(
    session: AsyncSession, *, case_id: str, principal: Principal
) -> tuple[Case, list[Assignment], list[CaseEvent], list[Extension]]:
    case = await session.get(Case, case_id)
    if case is None:
        raise NotFound("case", texts.CASE_NOT_FOUND)
    assignments = list(
        (
            await session.scalars(
                select(Assignment)
                .where(Assignment.case_id == case_id)
                .order_by(Assignment.round, Assignment.dispatched_at)
            )
        ).all()
    )
    if not may_see_case(principal, case, assignments):
        raise NotFound("case", texts.CASE_NOT_FOUND)
    events = list(
        (
            await session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.at, CaseEvent.id)
            )
        ).all()
    )
    extensions = list(
        (
            await session.scalars(
                select(Extension).where(Extension.case_id == case_id).order_by(Extension.requested_at)
            )
        ).all()
    )
    if principal.role in (Role.UNIT, Role.GRID_WORKER):
        # An assignee of a joint case sees who else was convened, not their steps: another unit's notes, 退单 reason,
        # 延期 request and escalations are between that unit and the task force.
        mine = principal.sub if principal.role is Role.UNIT else principal.scope
        assignments = [a for a in assignments if a.unit_id == mine]
        own = {a.id for a in assignments}
        extensions = [e for e in extensions if e.assignment_id in own]
        own_extensions = {e.id for e in extensions}
        events = [e for e in events if _concerns(e, own, own_extensions)]
    return case, assignments, events, extensions


def _concerns(event: CaseEvent, assignments: set[str], extensions: set[str]) -> bool:
    """A step of the case itself, or of one of these assignments or extensions."""
    assignment, extension = event.detail.get("assignment_id"), event.detail.get("extension_id")
    return (assignment is None or assignment in assignments) and (extension is None or extension in extensions)


async def list_cases(
    session: AsyncSession, *, principal: Principal, status: str | None, tier: str | None, limit: int, now: datetime
) -> list[tuple[Case, bool]]:
    """Cases in the caller's street (task force) or district; overdue and escalated first. Returns
    (case, overdue) pairs."""
    q = select(Case)
    if principal.role not in SUPERVISORS:
        raise Forbidden("forbidden", texts.TASK_FORCE_ONLY, "Authorization")
    q = q.where(area_filter(principal, district=Case.district_id, street=Case.street_id))
    if status in CASE_FILTERS:
        q = q.where(Case.status.in_(values(CASE_FILTERS[status])))
    elif status:
        if status not in set(CaseStatus):
            raise Invalid("invalid_status", texts.CASE_STATUS_UNKNOWN, "status")
        q = q.where(Case.status == status)
    if tier:
        q = q.where(Case.tier == tier)
    overdue = (
        select(Assignment.case_id)
        .where(
            Assignment.status.in_(values(OPEN)),
            or_(
                and_(Assignment.status == AssignmentStatus.DISPATCHED, Assignment.sign_in_due < now),
                and_(Assignment.status == AssignmentStatus.SIGNED_IN, Assignment.on_site_due < now),
                Assignment.resolve_due < now,
            ),
        )
        .distinct()
    )
    overdue_ids = set((await session.scalars(overdue)).all())
    cases = list((await session.scalars(q.order_by(Case.opened_at.desc()).limit(limit))).all())
    rank = {None: 0, "reminder": 1, "notice": 2, "supervision": 3}
    cases.sort(key=lambda c: (c.id not in overdue_ids, -rank.get(c.escalation_level, 0), c.opened_at))
    return [(c, c.id in overdue_ids) for c in cases]
