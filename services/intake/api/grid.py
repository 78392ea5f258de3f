"""Grid workers' routes: 一键上报, the visit ledger (访民问暖) and the places of their grid; the ledger is also read by
the task force, the district and admin."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import registry, service, texts, visits
from services.intake.api.common import IdQuery, Session, not_future
from services.intake.config import GRID_WORKER
from services.intake.deps import intake_context
from services.intake.schemas import (
    GridReportIn,
    PlaceOut,
    ReportOut,
    VisitIn,
    VisitOut,
    VisitSummaryOut,
)
from shared.auth import Principal, Role, require
from shared.errors import ApiError, NotFound, responses
from shared.evidence import PHOTO_REFUSALS
from shared.http.photos import evidence_of
from shared.http.security import CurrentPrincipal
from shared.inputs import IsoDate

router = APIRouter()


@router.post(
    "/v1/grid-reports",
    response_model=ReportOut,
    status_code=status.HTTP_201_CREATED,
    tags=["grid worker"],
    responses={
        200: {"description": "Same idempotency key: the first report"},
        **responses(401, 403, 422, 429),
        **PHOTO_REFUSALS,
    },
)
async def grid_report(
    body: GridReportIn, principal: CurrentPrincipal, session: Session, request: Request, response: Response
) -> ReportOut:
    """一键上报: a grid worker reports a problem in a household or building of their grid."""
    require(principal, Role.GRID_WORKER)
    await intake_context(request).rate_limits.check(GRID_WORKER, principal.sub)
    report, created = await service.report_from_grid(
        session,
        intake_context(request).intake,
        body=body,
        grid_worker_id=principal.sub,
        grid_id=principal.scope,
        at=intake_context(request).clock.now(),
        evidence=evidence_of(request),
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return ReportOut.model_validate(report)


@router.post(
    "/v1/visits",
    response_model=VisitOut,
    status_code=status.HTTP_201_CREATED,
    tags=["grid worker"],
    responses={
        200: {"description": "Same idempotency key: the visit already logged"},
        **responses(401, 403, 422, 429),
        **PHOTO_REFUSALS,
    },
)
async def log_visit(
    body: VisitIn, principal: CurrentPrincipal, session: Session, request: Request, response: Response
) -> VisitOut:
    """访民问暖 入户走访: log a household visit; each finding becomes a report."""
    require(principal, Role.GRID_WORKER)
    await intake_context(request).rate_limits.check(GRID_WORKER, principal.sub)
    not_future(request, body.visited_at, "visited_at")
    visit, created = await visits.log_visit(
        session,
        intake_context(request).intake,
        body=body,
        grid_worker_id=principal.sub,
        grid_id=principal.scope,
        at=intake_context(request).clock.now(),
        evidence=evidence_of(request),
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return VisitOut.model_validate(visit)


async def _grid_of(session: AsyncSession, principal: Principal, grid_id: str | None) -> str:
    """The grid whose ledger the caller reads: a grid worker's own (whatever it asks for); for a task force or a
    district one of its street or district, any other answering 404 like a grid that does not exist."""
    if principal.role is Role.GRID_WORKER:
        return principal.scope
    require(principal, Role.TASK_FORCE, Role.DISTRICT, Role.ADMIN)
    if not grid_id:
        raise ApiError(422, "missing_grid", texts.NEED_PLACE, "grid_id")
    if principal.role is not Role.ADMIN and principal.scope not in await registry.area_and_parents(
        session, area_id=grid_id
    ):
        raise NotFound("grid", texts.GRID_NOT_FOUND)
    return grid_id


@router.get("/v1/places", response_model=list[PlaceOut], tags=["grid worker"], responses=responses(401, 403, 422))
async def places(
    principal: CurrentPrincipal,
    session: Session,
    q: Annotated[
        str | None, Query(max_length=40, description="Part of a name or a room number, e.g. 粮库 or 101.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=20_000)] = 5_000,
) -> list[PlaceOut]:
    """The buildings and households of the grid worker's own grid, as people name them, for 一键上报 and 访民问暖
    (the field app keeps them for offline use). Names of places only: no resident's name or number."""
    require(principal, Role.GRID_WORKER)
    found = await registry.places_of_grid(session, grid_id=principal.scope)
    if q and (needle := q.strip()):
        found = [p for p in found if needle in p["label"] or needle == (p["room"] or "")]
    return [PlaceOut(**p) for p in found[:limit]]


@router.get("/v1/visits", response_model=list[VisitOut], tags=["grid worker"], responses=responses(401, 403, 404, 422))
async def list_visits(
    principal: CurrentPrincipal, session: Session, day: IsoDate, grid_id: IdQuery = None
) -> list[VisitOut]:
    """The visits of one grid on one (local) day."""
    rows = await visits.list_for_grid(session, grid_id=await _grid_of(session, principal, grid_id), day=day)
    return [VisitOut.model_validate(v) for v in rows]


@router.get(
    "/v1/visits/summary",
    response_model=VisitSummaryOut,
    tags=["grid worker"],
    responses=responses(401, 403, 404, 422),
)
async def visit_summary(
    principal: CurrentPrincipal, session: Session, day: IsoDate, grid_id: IdQuery = None
) -> VisitSummaryOut:
    """The ledger's figures for the daily report (走访户数、走访人数、排查问题)."""
    return await visits.summary(session, grid_id=await _grid_of(session, principal, grid_id), day=day)
