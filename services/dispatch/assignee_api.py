"""Dispatch HTTP API for the assignee console: a unit's (or grid worker's, or task force's) own assignments and
its actions on them (签收, 到场, 进展, 办结, 退单, 延期), each run once per ``Idempotency-Key``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

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
from services.dispatch.views import assignment_out, assignment_shown, with_caller_notes, with_photos
from shared.auth import Principal
from shared.clock import TimeSource
from shared.errors import responses
from shared.evidence import PHOTO_REFUSALS
from shared.http.security import CurrentPrincipal
from shared.idempotency import IdempotencyKey, once
from shared.outbox import OutboxWriter

router = APIRouter()


@dataclass(frozen=True, slots=True)
class Acting:
    """What an assignee's action needs: who acts, the request's transaction, the cases topic's writer and the clock;
    ``run`` does it once per ``Idempotency-Key`` (shared.idempotency)."""

    principal: Principal
    session: AsyncSession
    writer: OutboxWriter
    clock: TimeSource
    request: Request
    key: str | None

    async def run(self, act: Callable[[], Awaitable[BaseModel]], status_code: int = 200) -> Any:
        return await once(
            self.session,
            IdempotentReply,
            self.request,
            key=self.key,
            principal=self.principal,
            action=act,
            status_code=status_code,
        )


async def _acting(
    principal: CurrentPrincipal,
    session: Session,
    writer: Writer,
    clock: Now,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> Acting:
    return Acting(principal, session, writer, clock, request, idempotency_key)


ActingDep = Annotated[Acting, Depends(_acting)]


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
    await with_caller_notes(session, out)
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
    return await with_photos(await assignment_shown(session, a, clock), a, session, evidence)


@router.post(
    "/v1/assignments/{assignment_id}/sign-in",
    response_model=AssignmentOut,
    tags=["assignee console"],
    responses=ACTING,
)
async def sign_in(
    assignment_id: str,
    acting: ActingDep,
) -> Any:
    """签收 / 报到: the unit takes the assignment."""

    async def act() -> AssignmentOut:
        a = await actions.sign_in(
            acting.session,
            acting.writer,
            assignment_id=assignment_id,
            principal=acting.principal,
            at=acting.clock.now(),
        )
        return await assignment_shown(acting.session, a, acting.clock)

    return await acting.run(act)


@router.post(
    "/v1/assignments/{assignment_id}/arrive",
    response_model=AssignmentOut,
    tags=["assignee console"],
    responses=ACTING,
)
async def arrive(
    assignment_id: str,
    acting: ActingDep,
    body: ArriveIn | None = None,
) -> Any:
    """到场: the unit is on site (optionally with the phone's position, stored to ~100 m)."""

    async def act() -> AssignmentOut:
        position = body.position.coarse() if body and body.position else None
        a = await actions.arrive(
            acting.session,
            acting.writer,
            assignment_id=assignment_id,
            principal=acting.principal,
            at=acting.clock.now(),
            position=position,
        )
        return await assignment_shown(acting.session, a, acting.clock)

    return await acting.run(act)


@router.post(
    "/v1/assignments/{assignment_id}/progress",
    response_model=AssignmentOut,
    tags=["assignee console"],
    responses=ACTING,
)
async def progress(
    assignment_id: str,
    acting: ActingDep,
    body: ProgressIn,
) -> Any:
    """办理进展: a note on the case timeline."""

    async def act() -> AssignmentOut:
        a = await actions.add_progress(
            acting.session,
            acting.writer,
            assignment_id=assignment_id,
            principal=acting.principal,
            note=body.note,
            at=acting.clock.now(),
        )
        return await assignment_shown(acting.session, a, acting.clock)

    return await acting.run(act)


@router.post(
    "/v1/assignments/{assignment_id}/resolve",
    response_model=AssignmentOut,
    tags=["assignee console"],
    responses={**ACTING, **PHOTO_REFUSALS},
)
async def resolve(
    assignment_id: str,
    acting: ActingDep,
    body: ResolveIn,
    evidence: Proof,
    settings: Settings,
) -> Any:
    """办结 (the unit's part): what was done, with photos of the fix (404 for a photo this unit did not upload here,
    413/422 for one that is too large or not an image, 503 with Retry-After while the photo store is down: nothing
    is taken then); the case then waits for the return visit."""

    async def act() -> AssignmentOut:
        a = await actions.resolve(
            acting.session,
            acting.writer,
            assignment_id=assignment_id,
            principal=acting.principal,
            at=acting.clock.now(),
            action_taken=body.action_taken,
            measured_temp_c=body.measured_temp_c,
            photo_refs=body.photo_refs,
            evidence=evidence,
            photo_required=settings.photo_required_on_resolve,
        )
        return await with_photos(await assignment_shown(acting.session, a, acting.clock), a, acting.session, evidence)

    return await acting.run(act)


@router.post(
    "/v1/assignments/{assignment_id}/return",
    response_model=AssignmentOut,
    tags=["assignee console"],
    responses=ACTING,
)
async def return_assignment(
    assignment_id: str,
    acting: ActingDep,
    body: ReturnIn,
) -> Any:
    """退单: hand the assignment back with a reason code; the case is routed again."""

    async def act() -> AssignmentOut:
        a = await actions.return_assignment(
            acting.session,
            acting.writer,
            assignment_id=assignment_id,
            principal=acting.principal,
            reason=body.reason,
            note=body.note,
            at=acting.clock.now(),
        )
        return await assignment_shown(acting.session, a, acting.clock)

    return await acting.run(act)


@router.post(
    "/v1/assignments/{assignment_id}/extensions",
    response_model=ExtensionOut,
    status_code=201,
    tags=["assignee console"],
    responses=ACTING,
)
async def request_extension(
    assignment_id: str,
    acting: ActingDep,
    body: ExtensionIn,
) -> Any:
    """延期: ask the street task force for a later resolve deadline."""

    async def act() -> ExtensionOut:
        ext = await extensions.request_extension(
            acting.session,
            acting.writer,
            assignment_id=assignment_id,
            principal=acting.principal,
            reason=body.reason,
            resolve_due=body.resolve_due,
            at=acting.clock.now(),
        )
        return ExtensionOut.model_validate(ext)

    return await acting.run(act, status_code=201)
