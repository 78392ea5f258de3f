"""Follow-up HTTP API: the grid worker's return visits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.followup import service
from services.followup.config import FollowupSettings
from services.followup.schemas import VisitIn, VisitOut
from shared.auth import CurrentPrincipal, Role, require
from shared.clock import Clock
from shared.outbox import OutboxWriter

router = APIRouter()


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.runtime.sessions() as session, session.begin():
        yield session


Session = Annotated[AsyncSession, Depends(_session)]


@router.get("/v1/visits", response_model=list[VisitOut], tags=["grid worker"])
async def my_visits(principal: CurrentPrincipal, session: Session, status: str | None = "pending") -> list[VisitOut]:
    """The return visits owed in the caller's grid, the earliest deadline first."""
    require(principal, Role.GRID_WORKER)
    visits = await service.list_for_grid(session, grid_id=principal.scope, status=status)
    return [VisitOut.model_validate(v) for v in visits]


@router.post("/v1/visits/{visit_id}/record", response_model=VisitOut, tags=["grid worker"])
async def record_visit(
    visit_id: str, body: VisitIn, principal: CurrentPrincipal, session: Session, request: Request
) -> VisitOut:
    """回访: measured rooms and the resident's verdict. Closes the case or sends it back to dispatch."""
    require(principal, Role.GRID_WORKER)
    settings: FollowupSettings = request.app.state.runtime.settings
    writer: OutboxWriter = request.app.state.writer
    clock: Clock = request.app.state.clock
    visit = await service.record(
        session,
        writer,
        visit_id=visit_id,
        grid_id=principal.scope,
        grid_worker_id=principal.sub,
        body=body,
        standard_c=settings.standard_temp_c,
        at=clock.now(),
    )
    return VisitOut.model_validate(visit)
