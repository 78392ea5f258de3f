"""Follow-up use cases. Each takes the session of one transaction; the caller commits."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.followup import domain, messages
from services.followup.models import Visit
from services.followup.schemas import VisitIn
from shared.contracts.dispatch import CaseResolved
from shared.contracts.followup import CaseClosed, CaseReopened, VisitRecorded, VisitScheduled
from shared.errors import ApiError, Conflict, NotFound
from shared.outbox import OutboxWriter


async def schedule(
    session: AsyncSession, writer: OutboxWriter, *, resolved: CaseResolved, within: timedelta
) -> Visit | None:
    """A resolved round owes a return visit within ``within``; one visit per case and round."""
    loc = resolved.location
    visit_id = f"V-{uuid.uuid4().hex[:16]}"
    due_at = resolved.resolved_at + within
    row = await session.scalar(
        insert(Visit)
        .values(
            id=visit_id,
            case_id=resolved.case_id,
            round=resolved.round,
            category=resolved.category.value,
            household_id=loc.household_id,
            building_id=loc.building_id,
            grid_id=loc.grid_id,
            community_id=loc.community_id,
            street_id=loc.street_id,
            district_id=loc.district_id,
            unit_ids=resolved.unit_ids,
            resolved_at=resolved.resolved_at,
            due_at=due_at,
            status="pending",
            photo_refs=[],
        )
        .on_conflict_do_nothing(index_elements=[Visit.case_id, Visit.round])
        .returning(Visit.id)
    )
    if row is None:
        return None
    await writer.emit(
        session,
        VisitScheduled(
            visit_id=visit_id,
            case_id=resolved.case_id,
            round=resolved.round,
            household_id=loc.household_id,
            grid_id=loc.grid_id,
            due_at=due_at,
        ),
        key=resolved.case_id,
        at=resolved.resolved_at,
    )
    return await session.get(Visit, visit_id)


async def list_for_grid(session: AsyncSession, *, grid_id: str, status: str | None = "pending") -> list[Visit]:
    q = select(Visit).where(Visit.grid_id == grid_id)
    if status:
        q = q.where(Visit.status == status)
    return list((await session.scalars(q.order_by(Visit.due_at))).all())


async def record(
    session: AsyncSession,
    writer: OutboxWriter,
    *,
    visit_id: str,
    grid_id: str,
    grid_worker_id: str,
    body: VisitIn,
    standard_c: float,
    at: datetime,
) -> Visit:
    """Record the return visit and decide: 办结 (CaseClosed) or 发回重办 (CaseReopened)."""
    visit = await session.get(Visit, visit_id, with_for_update=True)
    if visit is None or visit.grid_id != grid_id:
        raise NotFound("visit", messages.VISIT_NOT_FOUND)
    if visit.status != "pending":
        raise Conflict("visit_not_pending", messages.VISIT_NOT_PENDING)
    try:
        v = domain.verdict(body.room_temps_c, body.satisfaction, standard_c=standard_c)
    except ValueError as exc:
        raise ApiError(422, "invalid_visit", str(exc), "room_temps_c") from exc
    visit.room_temps_c = body.room_temps_c
    visit.min_temp_c = v.min_temp_c
    visit.satisfaction = body.satisfaction.value
    visit.notes, visit.photo_refs = body.notes, body.photo_refs
    visit.visited_by, visit.visited_at = grid_worker_id, at
    visit.status = "closed" if v.close else "reopened"
    visit.reopen_reason = v.reason.value if v.reason else None
    key = visit.case_id
    await writer.emit(
        session,
        VisitRecorded(
            visit_id=visit.id,
            case_id=visit.case_id,
            round=visit.round,
            room_temps_c=body.room_temps_c,
            satisfaction=body.satisfaction,
            visited_by=grid_worker_id,
            visited_at=at,
        ),
        key=key,
        at=at,
    )
    if v.close:
        await writer.emit(
            session,
            CaseClosed(
                case_id=visit.case_id,
                round=visit.round,
                min_temp_c=v.min_temp_c,
                satisfaction=body.satisfaction,
                closed_at=at,
            ),
            key=key,
            at=at,
        )
    else:
        assert v.reason is not None
        await writer.emit(
            session,
            CaseReopened(
                case_id=visit.case_id,
                round=visit.round,
                reason=v.reason,
                min_temp_c=v.min_temp_c,
                satisfaction=body.satisfaction,
                reopened_at=at,
            ),
            key=key,
            at=at,
        )
    return visit
