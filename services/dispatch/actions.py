"""An assignee's actions on its assignment: 签收 (sign in), 到场 (arrive), progress notes, 办结 (resolve: the case
awaits its return visit once every part of the round is done) and 退单 (hand back: the case is routed again
without it, or supervised after too many bounces). Each takes the session of one transaction; the caller commits.

Who acts on an assignment (``Actor``): a unit on its own assignments; a grid worker on the minor cases of
its grid; the street task force on the complex cases of its street.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch import assignment, domain
from services.dispatch.access import actor_name, get_for_actor
from services.dispatch.effects import Changed, apply
from services.dispatch.escalation import supervise
from services.dispatch.models import Assignment, Case, CaseReport
from services.dispatch.routing import assign, round_assignments, route
from services.dispatch.rules import current_rules
from services.dispatch.states import ASSIGNMENT, OPEN, SETTLED_OUT, AssignmentStatus, CaseStatus
from services.dispatch.timeline import Happened
from shared.auth import Principal
from shared.contracts.common import Category, Location, Priority, UnitType
from shared.contracts.dispatch import (
    CaseResolved,
)
from shared.evidence import Evidence
from shared.outbox import OutboxWriter


async def sign_in(
    session: AsyncSession, writer: OutboxWriter, *, assignment_id: str, principal: Principal, at: datetime
) -> Assignment:
    """签收 / 报到."""
    a = await get_for_actor(session, assignment_id=assignment_id, principal=principal)
    await apply(session, writer, assignment.sign_in(a, actor=actor_name(principal), at=at))
    return a


async def arrive(
    session: AsyncSession,
    writer: OutboxWriter,
    *,
    assignment_id: str,
    principal: Principal,
    at: datetime,
    position: dict[str, float] | None = None,
) -> Assignment:
    """到场, with the phone's position if it gave one (already coarse)."""
    a = await get_for_actor(session, assignment_id=assignment_id, principal=principal)
    await apply(session, writer, assignment.arrive(a, actor=actor_name(principal), at=at, position=position))
    return a


async def add_progress(
    session: AsyncSession, writer: OutboxWriter, *, assignment_id: str, principal: Principal, note: str, at: datetime
) -> Assignment:
    """A progress note (办理中) on the case timeline."""
    a = await get_for_actor(session, assignment_id=assignment_id, principal=principal)
    await apply(session, writer, assignment.progress(a, actor=actor_name(principal), at=at, note=note))
    return a


async def resolve(
    session: AsyncSession,
    writer: OutboxWriter,
    *,
    assignment_id: str,
    principal: Principal,
    at: datetime,
    action_taken: str,
    measured_temp_c: float | None,
    photo_refs: list[str],
    evidence: Evidence | None = None,
    photo_required: bool = False,
) -> Assignment:
    """办结 (the assignee's part). When every part of the round is done the case awaits its return visit. The photos
    must be this unit's uploads, checked and published by ``evidence`` (shared.evidence), taken since the dispatch."""
    a = await get_for_actor(session, assignment_id=assignment_id, principal=principal)
    ASSIGNMENT.check("resolve", a.status)  # before the photos are taken
    photos: list[Any] = []
    if evidence is not None:
        photos = await evidence.accept(
            session,
            photo_refs,
            principal=principal,
            subject=f"assignment:{a.id}",
            case_id=a.case_id,
            window=(a.dispatched_at, at),
            required=photo_required,
        )
    elif photo_refs or photo_required:
        raise ValueError("photos need the service's evidence store")
    resolved = assignment.resolve(
        a,
        actor=actor_name(principal),
        at=at,
        action_taken=action_taken,
        measured_temp_c=measured_temp_c,
        photo_refs=photo_refs,
        photos=len(photos),
        photos_outside_window=sum(1 for p in photos if p.outside_window),
    )
    await apply(session, writer, resolved)
    await _resolve_case_if_done(session, writer, a.case_id, at)
    return a


async def _resolve_case_if_done(session: AsyncSession, writer: OutboxWriter, case_id: str, at: datetime) -> None:
    case = await session.get(Case, case_id, with_for_update=True)
    assert case is not None
    live = [x for x in await round_assignments(session, case) if x.status not in SETTLED_OUT]
    if not live or any(x.status != AssignmentStatus.RESOLVED for x in live):
        return
    case.status, case.resolved_at = CaseStatus.RESOLVED, at
    report_ids = list((await session.scalars(select(CaseReport.report_id).where(CaseReport.case_id == case_id))).all())
    resolved = CaseResolved(
        case_id=case.id,
        round=case.round,
        category=Category(case.category),
        priority=Priority(case.priority),
        location=Location.model_validate(case.location),
        report_ids=report_ids,
        unit_ids=[x.unit_id for x in live],
        resolved_at=at,
    )
    await apply(
        session,
        writer,
        Changed(
            case_id=case_id,
            happened=Happened.RESOLVED,
            actor="dispatch",
            at=at,
            detail={"round": case.round},
            event=resolved,
        ),
    )


# -- 退单 ---------------------------------------------------------------------------------------------------------


async def return_assignment(
    session: AsyncSession,
    writer: OutboxWriter,
    *,
    assignment_id: str,
    principal: Principal,
    reason: domain.ReturnReason,
    note: str | None,
    at: datetime,
) -> Assignment:
    """退单: the assignee hands the assignment back with a reason; the case is routed again without it."""
    a = await get_for_actor(session, assignment_id=assignment_id, principal=principal)
    ASSIGNMENT.check("hand_back", a.status)
    case = await session.get(Case, a.case_id, with_for_update=True)
    assert case is not None
    _, rules = await current_rules(session)
    case.bounce_count += 1
    returned = assignment.hand_back(
        a,
        actor=actor_name(principal),
        at=at,
        reason=reason,
        note=note,
        bounce_count=case.bounce_count,
        district_id=case.district_id,
    )
    await apply(session, writer, returned)
    refused = set(
        (
            await session.scalars(
                select(Assignment.unit_id).where(
                    Assignment.case_id == case.id, Assignment.status == AssignmentStatus.RETURNED
                )
            )
        ).all()
    )
    if case.bounce_count >= rules.bounce_limit and not case.supervised:
        await supervise(session, writer, rules, case, cause="bounces", at=at)
        return a
    others = [x for x in await round_assignments(session, case) if x.status in OPEN]
    replacement = await route(session, rules, case, types=(UnitType(a.unit_type),), exclude=refused)
    if not replacement and not others:
        replacement = await route(session, rules, case, types=(UnitType.STREET_TASK_FORCE,), exclude=refused)
    await assign(session, writer, rules, case, replacement, at)
    if not replacement and not others:
        case.status = CaseStatus.UNROUTED
    return a
