"""Follow-up HTTP API for the weekly spot-checks (每周随机抽核): the street task force draws its sample of closed
cases and records what it found. Everything outside the caller's street or district is a 404."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.followup import domain, spotchecks, texts
from services.followup.deps import OVERSEERS, Session, followup_context, one_of
from services.followup.models import SpotCheckDraw
from services.followup.schemas import DrawOut, SpotCheckIn, SpotCheckOut
from services.followup.states import SpotCheckStatus
from shared.auth import Role, require
from shared.errors import NotFound, responses
from shared.http.photos import evidence_of
from shared.http.security import CurrentPrincipal

router = APIRouter()


async def _draw_out(session: AsyncSession, drawn: SpotCheckDraw) -> DrawOut:
    checks = await spotchecks.checks_of(session, drawn)
    out = DrawOut.model_validate(drawn)
    return out.model_copy(update={"checks": [SpotCheckOut.model_validate(c) for c in checks]})


@router.post(
    "/v1/spot-checks/draw",
    response_model=list[DrawOut],
    tags=["spot-checks"],
    responses=responses(401, 403, 404, 422),
)
async def draw_spot_checks(
    principal: CurrentPrincipal,
    session: Session,
    request: Request,
    week: Annotated[
        str | None, Query(max_length=8, description="ISO week, e.g. 2026-W47; default: the last full week.")
    ] = None,
    street_id: Annotated[
        str | None, Query(max_length=64, description="Default: the task force's street; admin: every street.")
    ] = None,
) -> list[DrawOut]:
    """Draw the weekly sample of closed cases to check. The sample is
    ``random.Random(f"{seed}:{street}:{week}").sample(population, k)``; drawing again returns the same draw."""
    require(principal, Role.TASK_FORCE, Role.ADMIN)
    ctx = followup_context(request)
    settings, now = ctx.settings, ctx.clock.now()
    week = week or domain.previous_week(now, settings.zone)
    if principal.role is Role.TASK_FORCE:
        if street_id and street_id != principal.scope:
            raise NotFound("street", texts.AREA_NOT_FOUND)
        street_id = principal.scope
    writer = ctx.writer
    if street_id:
        draws = [
            await spotchecks.draw(
                session, writer, street_id=street_id, week=week, settings=settings, by=principal.sub, at=now
            )
        ]
    else:
        draws = await spotchecks.draw_all(session, writer, week=week, settings=settings, by=principal.sub, at=now)
    return [await _draw_out(session, d) for d in draws]


@router.get(
    "/v1/spot-checks", response_model=list[SpotCheckOut], tags=["spot-checks"], responses=responses(401, 403, 422)
)
async def list_spot_checks(
    principal: CurrentPrincipal,
    session: Session,
    week: Annotated[str | None, Query(max_length=8)] = None,
    status: Annotated[str | None, Query(pattern=one_of(*SpotCheckStatus))] = None,
    street_id: Annotated[str | None, Query(max_length=64)] = None,
) -> list[SpotCheckOut]:
    """The check tasks of the caller's street (task force) or district."""
    require(principal, *OVERSEERS)
    checks = await spotchecks.list_checks(session, principal=principal, week=week, status=status, street_id=street_id)
    return [SpotCheckOut.model_validate(c) for c in checks]


@router.get(
    "/v1/spot-checks/{check_id}",
    response_model=SpotCheckOut,
    tags=["spot-checks"],
    responses=responses(401, 403, 404, 422),
)
async def get_spot_check(check_id: str, principal: CurrentPrincipal, session: Session) -> SpotCheckOut:
    require(principal, *OVERSEERS)
    return SpotCheckOut.model_validate(await spotchecks.get(session, check_id=check_id, principal=principal))


@router.post(
    "/v1/spot-checks/{check_id}/record",
    response_model=SpotCheckOut,
    tags=["spot-checks"],
    responses=responses(401, 403, 404, 409, 422),
)
async def record_spot_check(
    check_id: str, body: SpotCheckIn, principal: CurrentPrincipal, session: Session, request: Request
) -> SpotCheckOut:
    """The task force's finding; a failure reopens the case (CaseReopened, spot_check_failed)."""
    require(principal, Role.TASK_FORCE, Role.ADMIN)
    ctx = followup_context(request)
    check = await spotchecks.record(
        session,
        ctx.writer,
        check_id=check_id,
        principal=principal,
        body=body,
        at=ctx.clock.now(),
        evidence=evidence_of(request),
    )
    return SpotCheckOut.model_validate(check)
