"""Reading return visits within what the caller may see: a grid worker its grid, the task force its street, a
district its district, an admin everything. A visit outside that is a 404, like one that does not exist."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from services.followup import texts
from services.followup.models import Round, Visit
from services.followup.states import VisitStatus
from shared.auth import Principal
from shared.errors import NotFound
from shared.scope import area_filter


def in_scope(principal: Principal, model: Any) -> ColumnElement[bool]:
    """What of a table with district/street(/grid) columns the caller oversees (``shared.scope``)."""
    return area_filter(
        principal, district=model.district_id, street=model.street_id, grid=getattr(model, "grid_id", None)
    )


async def list_visits(
    session: AsyncSession,
    *,
    principal: Principal,
    status: str | None = VisitStatus.PENDING,
    overdue: bool | None = None,
    community_id: str | None = None,
    case_id: str | None = None,
    limit: int = 200,
) -> list[Visit]:
    """The return visits the caller oversees, the earliest deadline first."""
    q = select(Visit).where(in_scope(principal, Visit))
    if status:
        q = q.where(Visit.status == status)
    if overdue is not None:
        q = q.where(Visit.overdue_at.is_not(None) if overdue else Visit.overdue_at.is_(None))
    if community_id:
        q = q.where(Visit.community_id == community_id)
    if case_id:
        q = q.where(Visit.case_id == case_id)
    return list((await session.scalars(q.order_by(Visit.due_at, Visit.id).limit(limit))).all())


async def get(session: AsyncSession, *, visit_id: str, principal: Principal) -> Visit:
    """The visit, or 404 — also for a visit outside the caller's grid, street or district (no existence leak)."""
    visit = await session.scalar(select(Visit).where(Visit.id == visit_id, in_scope(principal, Visit)))
    if visit is None:
        raise NotFound("visit", texts.VISIT_NOT_FOUND)
    return visit


async def round_of(session: AsyncSession, visit: Visit) -> Round | None:
    return await session.get(Round, (visit.case_id, visit.round))


async def rounds_of(session: AsyncSession, visits: list[Visit]) -> dict[tuple[str, int], Round]:
    keys = {(v.case_id, v.round) for v in visits}
    if not keys:
        return {}
    found = await session.scalars(select(Round).where(tuple_(Round.case_id, Round.round).in_(keys)))
    return {(r.case_id, r.round): r for r in found.all()}
