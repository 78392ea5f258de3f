"""Follow-up HTTP API for return visits: the grid worker's list and its records (回访), the overseers' views.
Everything outside the caller's grid, street or district is a 404."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.followup import recording, visits
from services.followup.deps import OVERSEERS, Session, followup_context, one_of
from services.followup.models import IdempotentReply, Round, Visit
from services.followup.schemas import VisitIn, VisitOut
from services.followup.states import VisitStatus
from shared.auth import Role, require
from shared.errors import responses
from shared.evidence import PHOTO_REFUSALS, PhotoOut
from shared.http.photos import evidence_of
from shared.http.security import CurrentPrincipal
from shared.idempotency import IdempotencyKey, once

router = APIRouter()


def _visit_out(
    visit: Visit, round_: Round | None, photos: dict[str, PhotoOut] | None = None, *, photo_required: bool = True
) -> VisitOut:
    out = VisitOut.model_validate(visit)
    shown = [photos[k] for k in visit.photo_refs or [] if k in photos] if photos else []
    update = {"round_outcome": round_.outcome if round_ else None, "photos": shown, "photo_required": photo_required}
    return out.model_copy(update=update)


async def _photos(session: AsyncSession, request: Request, *subjects: Any) -> dict[str, PhotoOut]:
    """The photos of these visits or checks, by key, in one query (short-lived links)."""
    keys = [k for x in subjects for k in (x.photo_refs or [])]
    return {p.key: p for p in await evidence_of(request).shown(session, keys)} if keys else {}


@router.get("/v1/visits", response_model=list[VisitOut], tags=["return visits"], responses=responses(401, 403, 422))
async def list_visits(
    principal: CurrentPrincipal,
    session: Session,
    request: Request,
    status: Annotated[
        str, Query(pattern=one_of(*VisitStatus, "all"), description="all: any status")
    ] = VisitStatus.PENDING,
    overdue: Annotated[bool | None, Query(description="Only overdue (true) or only on time (false).")] = None,
    community_id: Annotated[str | None, Query(max_length=64)] = None,
    case_id: Annotated[str | None, Query(max_length=64)] = None,
) -> list[VisitOut]:
    """The return visits the caller oversees, earliest deadline first: a grid worker those of its grid, the task
    force its street's, a district its district's. Overdue visits (escalated to the community) carry
    ``overdue_at``."""
    require(principal, Role.GRID_WORKER, *OVERSEERS)
    found = await visits.list_visits(
        session,
        principal=principal,
        status=None if status == "all" else status,
        overdue=overdue,
        community_id=community_id,
        case_id=case_id,
    )
    rounds = await visits.rounds_of(session, found)
    photos = await _photos(session, request, *found)
    required = followup_context(request).settings.photo_required_on_visit
    return [_visit_out(v, rounds.get((v.case_id, v.round)), photos, photo_required=required) for v in found]


@router.get(
    "/v1/visits/{visit_id}", response_model=VisitOut, tags=["return visits"], responses=responses(401, 403, 404, 422)
)
async def get_visit(visit_id: str, principal: CurrentPrincipal, session: Session, request: Request) -> VisitOut:
    require(principal, Role.GRID_WORKER, *OVERSEERS)
    visit = await visits.get(session, visit_id=visit_id, principal=principal)
    return _visit_out(
        visit,
        await visits.round_of(session, visit),
        await _photos(session, request, visit),
        photo_required=followup_context(request).settings.photo_required_on_visit,
    )


@router.post(
    "/v1/visits/{visit_id}/record",
    response_model=VisitOut,
    tags=["return visits"],
    responses={**responses(401, 403, 404, 409, 422), **PHOTO_REFUSALS},
)
async def record_visit(
    visit_id: str,
    body: VisitIn,
    principal: CurrentPrincipal,
    session: Session,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """回访: measured rooms, photos of the thermometer and the resident's verdict — or ``reached: false`` when nobody
    could be reached. Closes the case or sends it back to dispatch once the round's visits are in. Photos: 404 for
    one this worker did not upload here, 413/422 too large or not an image, 503 with Retry-After while the photo
    store is down (nothing is recorded then). Resent with the same ``Idempotency-Key``: the first answer."""
    require(principal, Role.GRID_WORKER)
    ctx = followup_context(request)

    async def act() -> VisitOut:
        visit, round_ = await recording.record(
            session,
            ctx.writer,
            visit_id=visit_id,
            principal=principal,
            body=body,
            settings=ctx.settings,
            at=ctx.clock.now(),
            evidence=evidence_of(request),
        )
        return _visit_out(
            visit,
            round_,
            await _photos(session, request, visit),
            photo_required=ctx.settings.photo_required_on_visit,
        )

    return await once(session, IdempotentReply, request, key=idempotency_key, principal=principal, action=act)
