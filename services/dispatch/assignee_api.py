"""Dispatch HTTP API for the assignee console: a unit's (or grid worker's, or task force's) own assignments and
its actions on them (签收, 到场, 进展, 办结, 退单, 延期), each run once per ``Idempotency-Key``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from services.dispatch import access, actions, extensions
from services.dispatch.deps import Now, Proof, Session, Settings, Writer
from services.dispatch.models import IdempotentReply
from services.dispatch.schemas import (
    ArriveIn,
    AssignmentOut,
    ExtensionIn,
    ExtensionOut,
    ProgressIn,
    ResolveIn,
    ReturnIn,
)
from services.dispatch.views import assignment_out, with_photos
from shared.auth import Principal
from shared.errors import responses
from shared.evidence import PHOTO_REFUSALS
from shared.http.security import CurrentPrincipal
from shared.idempotency import IdempotencyKey, once

router = APIRouter()


async def _acting(
    session: Any,
    request: Request,
    key: str | None,
    principal: Principal,
    act: Any,
    status_code: int = 200,
) -> Any:
    """An assignee's action, run once per ``Idempotency-Key`` (shared.idempotency)."""
    return await once(
        session, IdempotentReply, request, key=key, principal=principal, action=act, status_code=status_code
    )


_PRIORITY_RANK = {"emergency": 0, "urgent": 1, "normal": 2}
# What acting on an assignment can answer besides success: not signed in, not an assignee, not yours (or no such
# assignment), not in a state that allows it, invalid input.
ACTING = responses(401, 403, 404, 409, 422)


@router.get(
    "/v1/assignments",
    response_model=list[AssignmentOut],
    tags=["assignee console"],
    responses=responses(401, 403, 422),
)
async def my_assignments(
    principal: CurrentPrincipal, session: Session, clock: Now, include_done: bool = False
) -> list[AssignmentOut]:
    """The caller's assignments: emergencies and priority residents first, then the nearest deadline."""
    rows = await access.list_for_actor(session, principal=principal, include_done=include_done)
    out = [assignment_out(a, clock, c) for a, c in rows]
    out.sort(
        key=lambda x: (
            _PRIORITY_RANK.get(x.priority or "normal", 2),
            not x.priority_resident,
            x.seconds_left if x.seconds_left is not None else float("inf"),
        )
    )
    return out


@router.get(
    "/v1/assignments/{assignment_id}",
    response_model=AssignmentOut,
    tags=["assignee console"],
    responses=responses(401, 403, 404, 422),
)
async def my_assignment(
    assignment_id: str, principal: CurrentPrincipal, session: Session, clock: Now, evidence: Proof
) -> AssignmentOut:
    a = await access.get_for_actor(session, assignment_id=assignment_id, principal=principal)
    return await with_photos(assignment_out(a, clock), a, session, evidence)


@router.post(
    "/v1/assignments/{assignment_id}/sign-in",
    response_model=AssignmentOut,
    tags=["assignee console"],
    responses=ACTING,
)
async def sign_in(
    assignment_id: str,
    principal: CurrentPrincipal,
    session: Session,
    writer: Writer,
    clock: Now,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """签收 / 报到: the unit takes the assignment."""

    async def act() -> AssignmentOut:
        a = await actions.sign_in(session, writer, assignment_id=assignment_id, principal=principal, at=clock.now())
        return assignment_out(a, clock)

    return await _acting(session, request, idempotency_key, principal, act)


@router.post(
    "/v1/assignments/{assignment_id}/arrive",
    response_model=AssignmentOut,
    tags=["assignee console"],
    responses=ACTING,
)
async def arrive(
    assignment_id: str,
    principal: CurrentPrincipal,
    session: Session,
    writer: Writer,
    clock: Now,
    request: Request,
    body: ArriveIn | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """到场: the unit is on site (optionally with the phone's position, stored to ~100 m)."""

    async def act() -> AssignmentOut:
        position = body.position.coarse() if body and body.position else None
        a = await actions.arrive(
            session, writer, assignment_id=assignment_id, principal=principal, at=clock.now(), position=position
        )
        return assignment_out(a, clock)

    return await _acting(session, request, idempotency_key, principal, act)


@router.post(
    "/v1/assignments/{assignment_id}/progress",
    response_model=AssignmentOut,
    tags=["assignee console"],
    responses=ACTING,
)
async def progress(
    assignment_id: str,
    body: ProgressIn,
    principal: CurrentPrincipal,
    session: Session,
    writer: Writer,
    clock: Now,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """办理进展: a note on the case timeline."""

    async def act() -> AssignmentOut:
        a = await actions.add_progress(
            session, writer, assignment_id=assignment_id, principal=principal, note=body.note, at=clock.now()
        )
        return assignment_out(a, clock)

    return await _acting(session, request, idempotency_key, principal, act)


@router.post(
    "/v1/assignments/{assignment_id}/resolve",
    response_model=AssignmentOut,
    tags=["assignee console"],
    responses={**ACTING, **PHOTO_REFUSALS},
)
async def resolve(
    assignment_id: str,
    body: ResolveIn,
    principal: CurrentPrincipal,
    session: Session,
    writer: Writer,
    clock: Now,
    request: Request,
    evidence: Proof,
    settings: Settings,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """办结 (the unit's part): what was done, with photos of the fix (404 for a photo this unit did not upload here,
    413/422 for one that is too large or not an image, 503 with Retry-After while the photo store is down: nothing
    is taken then); the case then waits for the return visit."""

    async def act() -> AssignmentOut:
        a = await actions.resolve(
            session,
            writer,
            assignment_id=assignment_id,
            principal=principal,
            at=clock.now(),
            action_taken=body.action_taken,
            measured_temp_c=body.measured_temp_c,
            photo_refs=body.photo_refs,
            evidence=evidence,
            photo_required=settings.photo_required_on_resolve,
        )
        return await with_photos(assignment_out(a, clock), a, session, evidence)

    return await _acting(session, request, idempotency_key, principal, act)


@router.post(
    "/v1/assignments/{assignment_id}/return",
    response_model=AssignmentOut,
    tags=["assignee console"],
    responses=ACTING,
)
async def return_assignment(
    assignment_id: str,
    body: ReturnIn,
    principal: CurrentPrincipal,
    session: Session,
    writer: Writer,
    clock: Now,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """退单: hand the assignment back with a reason code; the case is routed again."""

    async def act() -> AssignmentOut:
        a = await actions.return_assignment(
            session,
            writer,
            assignment_id=assignment_id,
            principal=principal,
            reason=body.reason,
            note=body.note,
            at=clock.now(),
        )
        return assignment_out(a, clock)

    return await _acting(session, request, idempotency_key, principal, act)


@router.post(
    "/v1/assignments/{assignment_id}/extensions",
    response_model=ExtensionOut,
    status_code=201,
    tags=["assignee console"],
    responses=ACTING,
)
async def request_extension(
    assignment_id: str,
    body: ExtensionIn,
    principal: CurrentPrincipal,
    session: Session,
    writer: Writer,
    clock: Now,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """延期: ask the street task force for a later resolve deadline."""

    async def act() -> ExtensionOut:
        ext = await extensions.request_extension(
            session,
            writer,
            assignment_id=assignment_id,
            principal=principal,
            reason=body.reason,
            resolve_due=body.resolve_due,
            at=clock.now(),
        )
        return ExtensionOut.model_validate(ext)

    return await _acting(session, request, idempotency_key, principal, act, status_code=201)
