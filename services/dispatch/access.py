"""Who may act on or see what: assignees (unit, grid, task force) and supervisors (task force, district)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch import texts
from services.dispatch.models import (
    Assignment,
    Case,
)
from services.dispatch.states import OPEN
from shared.auth import Principal, Role
from shared.contracts.common import UnitType
from shared.errors import Forbidden, NotFound
from shared.scope import oversees
from shared.states import values

# -- who may act on what ----------------------------------------------------------------------------------


def assignee_filter(principal: Principal) -> Any:
    if principal.role is Role.UNIT:
        return Assignment.unit_id == principal.sub
    if principal.role is Role.GRID_WORKER:
        return and_(Assignment.unit_type == UnitType.GRID.value, Assignment.unit_id == principal.scope)
    if principal.role is Role.TASK_FORCE:
        return and_(Assignment.unit_type == UnitType.STREET_TASK_FORCE.value, Case.street_id == principal.scope)
    return None


def assignments_of(principal: Principal) -> Select[Assignment]:
    where = assignee_filter(principal)
    if where is None:
        raise Forbidden("forbidden", texts.NOT_AN_ASSIGNEE, "Authorization")
    return select(Assignment).join(Case, Case.id == Assignment.case_id).where(where)


async def get_for_actor(session: AsyncSession, *, assignment_id: str, principal: Principal) -> Assignment:
    """An assignment the caller may act on. Anyone else's is reported as missing, not as forbidden."""
    a = await session.scalar(
        assignments_of(principal).where(Assignment.id == assignment_id).with_for_update(of=Assignment)
    )
    if a is None:
        raise NotFound("assignment", texts.ASSIGNMENT_NOT_FOUND)
    return a


async def list_for_actor(
    session: AsyncSession, *, principal: Principal, include_done: bool = False
) -> list[tuple[Assignment, Case]]:
    where = assignee_filter(principal)
    if where is None:
        raise Forbidden("forbidden", texts.NOT_AN_ASSIGNEE, "Authorization")
    q = select(Assignment, Case).join(Case, Case.id == Assignment.case_id).where(where)
    if not include_done:
        q = q.where(Assignment.status.in_(values(OPEN)))
    rows = (await session.execute(q.order_by(Assignment.sign_in_due))).all()
    return [(a, c) for a, c in rows]


def actor_name(principal: Principal) -> str:
    return principal.sub or principal.scope


def may_see_case(principal: Principal, case: Case, assignments: list[Assignment]) -> bool:
    if oversees(principal, district_id=case.district_id, street_id=case.street_id):
        return True
    where = assignee_filter(principal)
    if where is None:
        return False
    return any(
        (principal.role is Role.UNIT and a.unit_id == principal.sub)
        or (principal.role is Role.GRID_WORKER and a.unit_type == UnitType.GRID.value and a.unit_id == principal.scope)
        for a in assignments
    )
