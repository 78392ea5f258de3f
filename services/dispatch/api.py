"""Dispatch HTTP API: the assignee console (签收, 到场, 进展, 办结, 退单, 延期), the task force's case views and
decisions, and the admin registry of units and rules."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import ValidationError

from services.dispatch import access, extensions, queries, registry, rules, service, texts
from services.dispatch.deps import Now, Proof, Session, Settings, Writer
from services.dispatch.domain import Clock, Rules
from services.dispatch.models import Assignment, Case, IdempotentReply
from services.dispatch.schemas import (
    ArriveIn,
    AssignmentOut,
    CaseEventOut,
    CaseOut,
    ColdSnapIn,
    DecisionIn,
    ExtensionIn,
    ExtensionOut,
    ProgressIn,
    ResolveIn,
    ReturnIn,
    RuleSetOut,
    TierIn,
    UnitOut,
    UnitsIn,
)
from services.dispatch.states import RUNNING_CLOCK, AssignmentStatus, ExtensionStatus
from shared.auth import Principal, Role, require
from shared.clock import TimeSource
from shared.errors import ApiError, responses
from shared.evidence import PHOTO_REFUSALS, Evidence
from shared.http.security import AdminOnly, CurrentPrincipal
from shared.idempotency import IdempotencyKey, once
from shared.privacy import STORED

router = APIRouter()


def assignment_out(a: Assignment, clock: TimeSource, case: Case | None = None) -> AssignmentOut:
    out = AssignmentOut.model_validate(a)
    running = RUNNING_CLOCK.get(AssignmentStatus(a.status))
    if running is not None:
        due = {Clock.SIGN_IN: a.sign_in_due, Clock.ON_SITE: a.on_site_due, Clock.RESOLVE: a.resolve_due}
        out.clock, out.seconds_left = running.value, (due[running] - clock.now()).total_seconds()
    if case is not None:
        out.category, out.priority = case.category, case.priority
        out.priority_resident, out.location = case.priority_resident, case.location
    return out


async def with_photos(out: AssignmentOut, a: Assignment, session: Any, evidence: Evidence) -> AssignmentOut:
    """A detail view's assignment with its photos (short-lived links; the caller may already see the case)."""
    out.photos = await evidence.shown(session, a.photo_refs or [])
    return out


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
        a = await service.sign_in(session, writer, assignment_id=assignment_id, principal=principal, at=clock.now())
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
        a = await service.arrive(
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
    clock: Now,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """办理进展: a note on the case timeline."""

    async def act() -> AssignmentOut:
        a = await service.add_progress(
            session, assignment_id=assignment_id, principal=principal, note=body.note, at=clock.now()
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
        a = await service.resolve(
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
        a = await service.return_assignment(
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
    status: Annotated[str | None, Query(max_length=20)] = "open",
    tier: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[CaseOut]:
    """Cases of the caller's street (task force) or district: overdue and escalated first."""
    rows = await queries.list_cases(
        session, principal=principal, status=status, tier=tier, limit=limit, now=clock.now()
    )
    out = []
    for case, overdue in rows:
        item = CaseOut.model_validate(case)
        item.overdue = overdue
        out.append(item)
    return out


@router.get("/v1/cases/{case_id}", response_model=CaseOut, tags=["cases"], responses=responses(401, 404, 422))
async def get_case(case_id: str, principal: CurrentPrincipal, session: Session, clock: Now, evidence: Proof) -> CaseOut:
    """A case with its assignments (and their photos), extensions and timeline (发现→上报→调度→处置→反馈)."""
    case, assignments, events, extensions = await queries.get_case(session, case_id=case_id, principal=principal)
    out = CaseOut.model_validate(case)
    out.assignments = [await with_photos(assignment_out(a, clock), a, session, evidence) for a in assignments]
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
    case = await service.retier(session, writer, case_id=case_id, principal=principal, tier=body.tier, at=clock.now())
    return CaseOut.model_validate(case)


@router.put("/v1/districts/{district_id}/cold-snap", tags=["task force"], responses=responses(401, 403, 422))
async def cold_snap(
    district_id: str, body: ColdSnapIn, principal: CurrentPrincipal, session: Session, clock: Now
) -> dict[str, Any]:
    """Declare or lift a cold snap (寒潮) for a district: new clocks there are tightened."""
    require(principal, Role.DISTRICT, Role.ADMIN)
    if principal.role is Role.DISTRICT and principal.scope != district_id:
        raise ApiError(403, "forbidden", texts.NOT_YOUR_DISTRICT, "district_id")
    flag = await rules.set_cold_snap(
        session,
        district_id=district_id,
        active=body.active,
        until=body.until,
        by=principal.sub or principal.scope,
        at=clock.now(),
    )
    return {"district_id": flag.district_id, "cold_snap": flag.cold_snap, "until": flag.until}


@router.get("/v1/units", response_model=list[UnitOut], tags=["units"], responses=responses(401))
async def list_units(principal: CurrentPrincipal, session: Session) -> list[UnitOut]:
    """The registry's responsible units with their names, for every signed-in caller: the API answers name a unit
    by its id (assignments, timeline, extensions, scorecards); the console shows it by name."""
    return [UnitOut.model_validate(u) for u in await registry.list_units(session)]


@router.put("/admin/units", tags=["admin"], dependencies=[AdminOnly], responses=responses(401, 422))
async def put_units(body: UnitsIn, session: Session) -> dict[str, int]:
    """Load or update the registry of units and what each serves. Idempotent."""
    return {"units": await registry.load_units(session, units=[u.model_dump() for u in body.units])}


@router.get(
    "/admin/rules",
    response_model=list[RuleSetOut],
    tags=["admin"],
    dependencies=[AdminOnly],
    responses=responses(401),
)
async def get_rules(session: Session) -> list[RuleSetOut]:
    """Every version of the dispatch rules, the one in force first."""
    return [RuleSetOut.model_validate(r) for r in await rules.rule_history(session)]


@router.put("/admin/rules", tags=["admin"], dependencies=[AdminOnly], responses=responses(401, 422))
async def put_rules(
    body: dict[str, Any], session: Session, note: Annotated[str, Query(max_length=300), STORED] = ""
) -> dict[str, int]:
    """A new version of the rules (tiers, routes, clocks, escalation, limits), in force at once on every
    replica; no restart. The note is stored redacted (shared.privacy), like every free text."""
    try:
        parsed = Rules.model_validate(body)
    except ValidationError as exc:
        raise ApiError(
            422,
            "invalid_rules",
            f"{texts.RULES_INVALID}: {exc.errors()[0]['msg']}",
            ".".join(str(p) for p in exc.errors()[0]["loc"]),
        ) from exc
    return {"version": await rules.put_rules(session, rules=parsed, note=note, by="admin")}
