"""Intake HTTP API: grid workers' one-tap report, report status, and the admin registry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import messages, service
from services.intake.schemas import GridReportIn, RegistryIn, ReportEventOut, ReportOut
from shared.auth import AdminOnly, CurrentPrincipal, Role, require
from shared.clock import Clock
from shared.errors import NotFound
from shared.outbox import OutboxWriter

router = APIRouter()


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.runtime.sessions() as session, session.begin():
        yield session


Session = Annotated[AsyncSession, Depends(_session)]


@router.post(
    "/v1/grid-reports",
    response_model=ReportOut,
    status_code=status.HTTP_201_CREATED,
    tags=["grid worker"],
    responses={200: {"description": "Same idempotency key: the first report"}},
)
async def grid_report(
    body: GridReportIn, principal: CurrentPrincipal, session: Session, request: Request, response: Response
) -> ReportOut:
    """一键上报: a grid worker reports a problem in a household or building of their grid."""
    require(principal, Role.GRID_WORKER)
    writer: OutboxWriter = request.app.state.writer
    clock: Clock = request.app.state.clock
    report, created = await service.report_from_grid(
        session, writer, body=body, grid_worker_id=principal.sub, grid_id=principal.scope, at=clock.now()
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return ReportOut.model_validate(report)


@router.get("/v1/reports/{report_id}", response_model=ReportOut, tags=["reports"])
async def get_report(report_id: str, principal: CurrentPrincipal, session: Session) -> ReportOut:
    """A report's status and what the reporter has been told, in order (事事有回音)."""
    report, events = await service.get(session, report_id=report_id)
    loc = report.location
    visible = (
        principal.role is Role.ADMIN
        or (principal.role is Role.GRID_WORKER and principal.scope == loc["grid_id"])
        or (principal.role is Role.TASK_FORCE and principal.scope == loc["street_id"])
        or (principal.role is Role.DISTRICT and principal.scope == loc["district_id"])
    )
    if not visible:
        raise NotFound("report", messages.REPORT_NOT_FOUND)
    out = ReportOut.model_validate(report)
    out.timeline = [ReportEventOut.model_validate(e) for e in events]
    return out


@router.put("/admin/registry", tags=["admin"], dependencies=[AdminOnly])
async def put_registry(body: RegistryIn, session: Session) -> dict[str, int]:
    """Load or update the geography, heat network, buildings and households. Idempotent."""
    return await service.load_registry(session, registry=body)
