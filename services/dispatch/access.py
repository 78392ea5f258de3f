"""Who may act on or see what: assignees (unit, grid, task force) and supervisors (task force, district)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BindParameter, and_, bindparam, func, literal, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch import texts
from services.dispatch.models import (
    Assignment,
    Case,
    CaseEvent,
)
from services.dispatch.states import OPEN
from shared.auth import Principal, Role
from shared.contracts.common import UnitType
from shared.errors import Forbidden, NotFound
from shared.scope import oversees
from shared.states import values

# -- who may act on what ----------------------------------------------------------------------------------

# An assignee's own assignments, by role, as statements built once with the assignee bound at execution (``who``):
# building a select with its joins and filters per request cost dispatch more CPU than some of them took to run.
_WHO: BindParameter[str] = bindparam("who")
_FILTERS: dict[Role, Any] = {
    Role.UNIT: Assignment.unit_id == _WHO,
    Role.GRID_WORKER: and_(Assignment.unit_type == UnitType.GRID.value, Assignment.unit_id == _WHO),
    Role.TASK_FORCE: and_(Assignment.unit_type == UnitType.STREET_TASK_FORCE.value, Case.street_id == _WHO),
}
_MINE = {role: select(Assignment).join(Case, Case.id == Assignment.case_id).where(f) for role, f in _FILTERS.items()}
_ONE_OF_MINE = {
    role: q.where(Assignment.id == bindparam("assignment_id")).with_for_update(of=Assignment)
    for role, q in _MINE.items()
}
_LISTS = {
    (role, include_done): (
        select(Assignment, Case)
        .join(Case, Case.id == Assignment.case_id)
        .where(f, *(() if include_done else (Assignment.status.in_(values(OPEN)),)))
        .order_by(Assignment.sign_in_due)
    )
    for role, f in _FILTERS.items()
    for include_done in (False, True)
}


def _digest_of_open(mine_filter: Any) -> Any:
    """One row of what an assignee's list shows, digested in the database: how many open assignments, an md5 over
    each one's id, status, resolve clock, escalation level and its case's tier and priority, and the newest timeline
    entry of their cases. The console's stream asks it of every open console once a second: no rows are sent, no
    objects built."""
    mine = (
        select(
            Assignment.id,
            Assignment.case_id,
            Assignment.status,
            Assignment.resolve_due,
            Assignment.escalation_level,
            Case.tier,
            Case.priority,
        )
        .join(Case, Case.id == Assignment.case_id)
        .where(mine_filter, Assignment.status.in_(values(OPEN)))
        .cte("mine")
    )
    c = mine.c
    line = func.concat_ws("|", c.id, c.status, c.resolve_due, c.escalation_level, c.tier, c.priority)
    newest = select(func.max(CaseEvent.id)).where(CaseEvent.case_id.in_(select(c.case_id))).scalar_subquery()
    return select(func.count(), func.md5(func.string_agg(line, aggregate_order_by(literal(";"), c.id))), newest)


OPEN_DIGESTS = {role: _digest_of_open(f) for role, f in _FILTERS.items()}


async def open_digest(session: AsyncSession, principal: Principal) -> tuple[int, str | None, int | None]:
    """(open assignments, their digest, the newest timeline entry of their cases) for an assignee."""
    count, digest, newest = (await session.execute(OPEN_DIGESTS[principal.role], assignee_params(principal))).one()
    return count, digest, newest


def assignee_params(principal: Principal) -> dict[str, str]:
    """The value ``who`` of the statements above: a unit's id, a grid's, a task force's street. Forbidden for a
    caller who is no assignee."""
    if principal.role not in _FILTERS:
        raise Forbidden("forbidden", texts.NOT_AN_ASSIGNEE, "Authorization")
    return {"who": principal.sub if principal.role is Role.UNIT else principal.scope}


async def get_for_actor(session: AsyncSession, *, assignment_id: str, principal: Principal) -> Assignment:
    """An assignment the caller may act on. Anyone else's is reported as missing, not as forbidden."""
    params = assignee_params(principal) | {"assignment_id": assignment_id}
    a = await session.scalar(_ONE_OF_MINE[principal.role], params)
    if a is None:
        raise NotFound("assignment", texts.ASSIGNMENT_NOT_FOUND)
    return a


async def list_for_actor(
    session: AsyncSession, *, principal: Principal, include_done: bool = False
) -> list[tuple[Assignment, Case]]:
    params = assignee_params(principal)
    rows = (await session.execute(_LISTS[principal.role, include_done], params)).all()
    return [(a, c) for a, c in rows]


def actor_name(principal: Principal) -> str:
    return principal.sub or principal.scope


def may_see_case(principal: Principal, case: Case, assignments: list[Assignment]) -> bool:
    if oversees(principal, district_id=case.district_id, street_id=case.street_id):
        return True
    if principal.role not in _FILTERS:
        return False
    return any(
        (principal.role is Role.UNIT and a.unit_id == principal.sub)
        or (principal.role is Role.GRID_WORKER and a.unit_type == UnitType.GRID.value and a.unit_id == principal.scope)
        for a in assignments
    )
