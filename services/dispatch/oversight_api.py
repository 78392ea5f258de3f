"""Dispatch HTTP API for supervision: the street task force's (or district's) extension decisions, its case
views and re-tiering; a case's detail for everyone who may see it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.dispatch import extensions, incidents, opening, queries
from services.dispatch.deps import Now, Proof, Session, Writer
from services.dispatch.schemas import CaseEventOut, CaseOut, DecisionIn, ExtensionOut, TierIn
from services.dispatch.states import ExtensionStatus
from services.dispatch.views import assignment_out, with_photos
from shared.auth import Role
from shared.errors import responses
from shared.http.security import CurrentPrincipal

router = APIRouter()


@router.get(
    "/v1/extensions", response_model=list[ExtensionOut], tags=["task force"], responses=responses(401, 403, 422)
)
async def list_extensions(
    principal: CurrentPrincipal,
    session: Session,
    status: Annotated[str | None, Query(max_length=20)] = ExtensionStatus.PENDING,
) -> list[ExtensionOut]:
    """Extension requests in the caller's street (task force) or district."""
    return [
        ExtensionOut.model_validate(e)
        for e in await extensions.list_extensions(session, principal=principal, status=status)
    ]


@router.post(
    "/v1/extensions/{extension_id}/decision",
    response_model=ExtensionOut,
    tags=["task force"],
    responses=responses(401, 404, 409, 422),
)
async def decide_extension(
    extension_id: str, body: DecisionIn, principal: CurrentPrincipal, session: Session, writer: Writer, clock: Now
) -> ExtensionOut:
    """Approve (the resolve deadline moves) or refuse (nothing moves) an extension."""
    ext = await extensions.decide_extension(
        session,
        writer,
        extension_id=extension_id,
        principal=principal,
        approved=body.approved,
        note=body.note,
        at=clock.now(),
    )
    return ExtensionOut.model_validate(ext)


@router.get("/v1/cases", response_model=list[CaseOut], tags=["task force"], responses=responses(401, 403, 422))
async def list_cases(
    principal: CurrentPrincipal,
    session: Session,
    clock: Now,
    status: Annotated[
        str | None,
        Query(
            max_length=20,
            description="``open`` (the default): every case not closed, resolved ones awaiting their return visit "
            "(待回访) included; ``in_progress``: only cases whose units are still at work (opened, assigned, "
            "unrouted); or one status: opened, assigned, unrouted, resolved, closed; empty: every case. Anything "
            "else is refused (422, field ``status``).",
        ),
    ] = "open",
    tier: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[CaseOut]:
    """Cases of the caller's street (task force) or district: overdue and escalated first. ``status=open`` lists
    every case not yet closed — a resolved case awaiting its return visit is still open."""
    rows = await queries.list_cases(
        session, principal=principal, status=status, tier=tier, limit=limit, now=clock.now()
    )
    reports = await incidents.report_ids(session, [case.id for case, _ in rows])
    out = []
    for case, overdue in rows:
        item = CaseOut.model_validate(case)
        item.overdue, item.report_ids = overdue, reports[case.id]
        out.append(item)
    return out


@router.get("/v1/cases/{case_id}", response_model=CaseOut, tags=["cases"], responses=responses(401, 404, 422))
async def get_case(case_id: str, principal: CurrentPrincipal, session: Session, clock: Now, evidence: Proof) -> CaseOut:
    """A case with its assignments (and their photos), extensions and timeline (发现→上报→调度→处置→反馈)."""
    case, assignments, events, extensions = await queries.get_case(session, case_id=case_id, principal=principal)
    out = CaseOut.model_validate(case)
    out.report_ids = (await incidents.report_ids(session, [case.id]))[case.id]
    out.assignments = [await with_photos(assignment_out(a, clock, case), a, session, evidence) for a in assignments]
    out.timeline = [CaseEventOut.model_validate(e) for e in events]
    out.extensions = [
        ExtensionOut.model_validate(e)
        for e in extensions
        if principal.role not in (Role.UNIT, Role.GRID_WORKER) or any(e.assignment_id == a.id for a in assignments)
    ]
    return out


@router.post(
    "/v1/cases/{case_id}/tier", response_model=CaseOut, tags=["task force"], responses=responses(401, 404, 409, 422)
)
async def retier(
    case_id: str, body: TierIn, principal: CurrentPrincipal, session: Session, writer: Writer, clock: Now
) -> CaseOut:
    """Re-tier a case (minor / technical / complex); it is routed afresh."""
    case = await opening.retier(session, writer, case_id=case_id, principal=principal, tier=body.tier, at=clock.now())
    return CaseOut.model_validate(case)
