"""Follow-up use cases for return visits: owe them when a round is resolved, record the attempts, decide the
round (办结 or 发回重办), escalate the overdue ones. Each takes the session of one transaction; the caller commits."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, false, select, true, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.followup import domain, facts, metrics, texts
from services.followup.config import FollowupSettings
from services.followup.domain import Outcome
from services.followup.models import BUILDING, CaseFact, Round, Visit, timers
from services.followup.schemas import VisitIn
from services.followup.states import ROUND, VISIT, CaseStatus, RoundOutcome, VisitStatus
from shared import timers as durable
from shared.auth import Principal, Role
from shared.contracts.common import Location, Satisfaction
from shared.contracts.dispatch import CaseResolved
from shared.contracts.followup import (
    CaseClosed,
    CaseReopened,
    ReopenReason,
    VisitOverdue,
    VisitRecorded,
    VisitScheduled,
    VisitUnreached,
)
from shared.db import after_commit
from shared.errors import Invalid, NotFound
from shared.evidence import Evidence
from shared.ids import new_id
from shared.outbox import OutboxWriter

VISIT_DUE = "visit_due"


def in_scope(principal: Principal, model: Any) -> ColumnElement[bool]:
    """What of a table with district/street(/grid) columns the caller may see: a grid worker its grid, the task
    force its street, a district its district, an admin everything; anyone else nothing."""
    if principal.role is Role.ADMIN:
        return true()
    if principal.role is Role.DISTRICT:
        return model.district_id == principal.scope  # type: ignore[no-any-return]
    if principal.role is Role.TASK_FORCE:
        return model.street_id == principal.scope  # type: ignore[no-any-return]
    if principal.role is Role.GRID_WORKER and hasattr(model, "grid_id"):
        return model.grid_id == principal.scope  # type: ignore[no-any-return]
    return false()


# -- owing visits ------------------------------------------------------------------------------------------


def _place_of(loc: Location, target: str) -> str | None:
    """The visit's place as people name it: the case's own (household or building), or the building's part of it
    for another household of a building sample (the field app adds the room from the grid's registry)."""
    if not loc.place_name:
        return None
    if target == BUILDING or target == loc.household_id:
        return loc.place_name
    return " · ".join(loc.place_name.split(" · ")[:2])


async def schedule(
    session: AsyncSession, writer: OutboxWriter, *, resolved: CaseResolved, settings: FollowupSettings
) -> list[Visit]:
    """A resolved round owes return visits within ``visit_within_hours``: the household of the case, or for a
    building-wide case a sample of the building's households (one building-level visit when none is known)."""
    case = await facts.case_resolved(session, resolved)
    loc = resolved.location
    standard = settings.standard_for(loc.district_id)
    created = await session.scalar(
        insert(Round)
        .values(
            case_id=resolved.case_id,
            round=resolved.round,
            street_id=loc.street_id,
            district_id=loc.district_id,
            unit_ids=resolved.unit_ids,
            resolved_at=resolved.resolved_at,
            standard_c=standard,
            outcome=RoundOutcome.PENDING,
            unreached=False,
        )
        .on_conflict_do_nothing()
        .returning(Round.case_id)
    )
    if created is None:
        return []  # this round already owes its visits
    if loc.household_id:
        targets = [loc.household_id]
    else:
        targets = domain.building_sample(
            case_id=case.id,
            round_=resolved.round,
            complainants=await facts.complainants(session, report_ids=resolved.report_ids, building_id=loc.building_id),
            known=await facts.households_of_building(session, loc.building_id),
            size=settings.building_sample_size,
        ) or [BUILDING]
    due_at = resolved.resolved_at + timedelta(hours=settings.visit_within_hours)
    visits = []
    for target in targets:
        visit = Visit(
            id=new_id("V"),
            case_id=resolved.case_id,
            round=resolved.round,
            target=target,
            category=resolved.category.value,
            household_id=None if target == BUILDING else target,
            building_id=loc.building_id,
            place_name=_place_of(loc, target),
            grid_id=loc.grid_id,
            community_id=loc.community_id,
            street_id=loc.street_id,
            district_id=loc.district_id,
            unit_ids=resolved.unit_ids,
            resolved_at=resolved.resolved_at,
            due_at=due_at,
            standard_c=standard,
            status=VisitStatus.PENDING,
            attempts=0,
            attempt_log=[],
            unreached=False,
            photo_refs=[],
        )
        session.add(visit)
        visits.append(visit)
        await durable.schedule(session, timers, kind=VISIT_DUE, ref=visit.id, due_at=due_at)
        await writer.emit(
            session,
            VisitScheduled(
                visit_id=visit.id,
                case_id=visit.case_id,
                round=visit.round,
                household_id=visit.household_id,
                grid_id=visit.grid_id,
                due_at=due_at,
            ),
            key=visit.case_id,
            at=resolved.resolved_at,
        )
    after_commit(session, metrics.VISITS_SCHEDULED.labels(loc.district_id).inc, len(visits))
    return visits


# -- reading visits -----------------------------------------------------------------------------------------


async def list_visits(
    session: AsyncSession,
    *,
    principal: Principal,
    status: str | None = VisitStatus.PENDING,
    overdue: bool | None = None,
    community_id: str | None = None,
    case_id: str | None = None,
    limit: int = 200,
) -> list[Visit]:
    """The return visits the caller oversees, the earliest deadline first."""
    q = select(Visit).where(in_scope(principal, Visit))
    if status:
        q = q.where(Visit.status == status)
    if overdue is not None:
        q = q.where(Visit.overdue_at.is_not(None) if overdue else Visit.overdue_at.is_(None))
    if community_id:
        q = q.where(Visit.community_id == community_id)
    if case_id:
        q = q.where(Visit.case_id == case_id)
    return list((await session.scalars(q.order_by(Visit.due_at, Visit.id).limit(limit))).all())


async def get(session: AsyncSession, *, visit_id: str, principal: Principal) -> Visit:
    """The visit, or 404 — also for a visit outside the caller's grid, street or district (no existence leak)."""
    visit = await session.scalar(select(Visit).where(Visit.id == visit_id, in_scope(principal, Visit)))
    if visit is None:
        raise NotFound("visit", texts.VISIT_NOT_FOUND)
    return visit


async def round_of(session: AsyncSession, visit: Visit) -> Round | None:
    return await session.get(Round, (visit.case_id, visit.round))


async def rounds_of(session: AsyncSession, visits: list[Visit]) -> dict[tuple[str, int], Round]:
    keys = {(v.case_id, v.round) for v in visits}
    if not keys:
        return {}
    found = await session.scalars(select(Round).where(tuple_(Round.case_id, Round.round).in_(keys)))
    return {(r.case_id, r.round): r for r in found.all()}


# -- recording a visit -------------------------------------------------------------------------------------------


def _earlier_temps(visit: Visit) -> list[float]:
    for attempt in reversed(visit.attempt_log or []):
        if attempt.get("room_temps_c"):
            return [float(t) for t in attempt["room_temps_c"]]
    return []


async def record(
    session: AsyncSession,
    writer: OutboxWriter,
    *,
    visit_id: str,
    principal: Principal,
    body: VisitIn,
    settings: FollowupSettings,
    at: datetime,
    evidence: Evidence | None = None,
) -> tuple[Visit, Round]:
    """Record an attempt at a return visit and decide: another attempt (resident not reached), or the visit's
    verdict — and, once the round's visits allow it, 办结 (CaseClosed) or 发回重办 (CaseReopened)."""
    visit = await get(session, visit_id=visit_id, principal=principal)
    # Lock order: the round first, then its visits — two visits of one building sample recorded at once wait
    # for each other instead of deadlocking.
    round_ = await session.get(Round, (visit.case_id, visit.round), with_for_update=True)
    assert round_ is not None, "a visit belongs to a round"
    await session.refresh(visit, with_for_update=True)
    VISIT.check("record", visit.status)
    try:
        attempt = domain.decide_attempt(
            reached=body.reached,
            room_temps_c=body.room_temps_c,
            satisfaction=body.satisfaction,
            standard_c=visit.standard_c,
            unreached_before=visit.attempts,
            earlier_temps_c=_earlier_temps(visit),
            max_unreached=settings.unreached_max_attempts,
        )
    except domain.ReadingRequired as exc:
        raise Invalid("reading_required", texts.READING_REQUIRED_UNREACHED, "room_temps_c") from exc
    # 测温拍照: the photos must be this worker's uploads, taken since the fix (else flagged for the task force).
    required = settings.photo_required_on_visit and body.reached
    if evidence is not None:
        await evidence.accept(
            session,
            body.photo_refs,
            principal=principal,
            subject=f"visit:{visit.id}",
            case_id=visit.case_id,
            window=(visit.resolved_at, at),
            required=required,
        )
    elif body.photo_refs or required:
        raise ValueError("photos need the service's evidence store")
    new_photos = [k for k in body.photo_refs if k not in visit.photo_refs]
    visit.attempt_log = [
        *(visit.attempt_log or []),
        {
            "at": at.isoformat(),
            "by": principal.sub,
            "reached": body.reached,
            "room_temps_c": body.room_temps_c,
            "satisfaction": body.satisfaction.value if body.satisfaction else None,
            "photo_refs": body.photo_refs,
        },
    ]
    district = visit.district_id
    if attempt.outcome is Outcome.RETRY:
        visit.attempts += 1
        visit.due_at = max(visit.due_at, at + timedelta(hours=settings.unreached_retry_hours))
        visit.notes = body.notes or visit.notes
        visit.photo_refs = [*visit.photo_refs, *new_photos]
        if visit.overdue_at is None:
            await durable.schedule(session, timers, kind=VISIT_DUE, ref=visit.id, due_at=visit.due_at)
        await writer.emit(
            session,
            VisitUnreached(
                visit_id=visit.id,
                case_id=visit.case_id,
                round=visit.round,
                attempt=visit.attempts,
                visited_by=principal.sub,
                visited_at=at,
                due_at=visit.due_at,
            ),
            key=visit.case_id,
            at=at,
        )
        after_commit(session, metrics.VISITS_RECORDED.labels(district, metrics.UNREACHED).inc)
        return visit, round_

    v = attempt.verdict
    assert v is not None
    temps = list(attempt.room_temps_c)
    visit.room_temps_c, visit.min_temp_c = temps, v.min_temp_c
    visit.satisfaction = body.satisfaction.value if body.satisfaction else None
    visit.notes = body.notes or visit.notes
    visit.photo_refs = [*visit.photo_refs, *new_photos]
    visit.visited_by, visit.visited_at, visit.concluded_at = principal.sub, at, at
    visit.unreached = attempt.unreached
    visit.status = VISIT.move("close" if v.close else "reopen", visit.status)
    visit.reopen_reason = v.reason.value if v.reason else None
    await durable.cancel(session, timers, ref=visit.id, kinds=[VISIT_DUE])
    await writer.emit(
        session,
        VisitRecorded(
            visit_id=visit.id,
            case_id=visit.case_id,
            round=visit.round,
            room_temps_c=temps,
            satisfaction=body.satisfaction,
            visited_by=principal.sub,
            visited_at=at,
            household_id=visit.household_id,
            reached=body.reached,
            attempt=visit.attempts + 1,
        ),
        key=visit.case_id,
        at=at,
    )
    after_commit(session, metrics.VISITS_RECORDED.labels(district, visit.status).inc)
    _count_visit(session, visit)
    await _decide_round(session, writer, round_, visit, at)
    return visit, round_


def _count_visit(session: AsyncSession, visit: Visit) -> None:
    temps = visit.room_temps_c or []
    compliant = str(bool(temps) and min(temps) >= visit.standard_c).lower()
    answer = visit.satisfaction or "none"
    for unit_id in visit.unit_ids:
        after_commit(session, metrics.UNIT_VISITS.labels(unit_id, answer, compliant).inc)
        if temps:
            after_commit(session, metrics.UNIT_VISIT_TEMP.labels(unit_id).observe, sum(temps) / len(temps))


async def _decide_round(session: AsyncSession, writer: OutboxWriter, round_: Round, visit: Visit, at: datetime) -> None:
    if not ROUND.allows("close", round_.outcome):  # a round is decided once
        return
    siblings = list(
        (
            await session.scalars(
                select(Visit)
                .where(Visit.case_id == round_.case_id, Visit.round == round_.round)
                .order_by(Visit.id)
                .with_for_update()
            )
        ).all()
    )
    decision = domain.round_outcome([s.status for s in siblings])
    if decision is None:
        return
    case = await session.get(CaseFact, round_.case_id, with_for_update=True)
    live = [s for s in siblings if s.status != VisitStatus.CANCELLED]
    round_.outcome = ROUND.move("reopen" if decision is RoundOutcome.REOPENED else "close", round_.outcome)
    round_.unreached = any(s.unreached for s in live)
    if decision is RoundOutcome.REOPENED:
        round_.min_temp_c, round_.satisfaction = visit.min_temp_c, visit.satisfaction
    else:
        round_.min_temp_c = min(s.min_temp_c for s in live if s.min_temp_c is not None)
        worst = domain.worst_satisfaction(Satisfaction(s.satisfaction) if s.satisfaction else None for s in live)
        round_.satisfaction = worst.value if worst else None
    assert round_.min_temp_c is not None
    satisfaction = Satisfaction(round_.satisfaction) if round_.satisfaction else None
    if decision is RoundOutcome.REOPENED:
        reason = ReopenReason(visit.reopen_reason or ReopenReason.TOO_COLD.value)
        round_.reason, round_.reopened_at = reason.value, at
        for other in siblings:
            if VISIT.allows("cancel", other.status):
                other.status, other.concluded_at = VISIT.move("cancel", other.status), at
                await durable.cancel(session, timers, ref=other.id, kinds=[VISIT_DUE])
                after_commit(session, metrics.VISITS_RECORDED.labels(other.district_id, other.status).inc)
        if case is not None and case.round == round_.round:
            case.status = CaseStatus.REOPENED
        await writer.emit(
            session,
            CaseReopened(
                case_id=round_.case_id,
                round=round_.round,
                reason=reason,
                min_temp_c=round_.min_temp_c,
                satisfaction=satisfaction,
                reopened_at=at,
            ),
            key=round_.case_id,
            at=at,
        )
    else:
        round_.closed_at = at
        if case is not None and case.round == round_.round:
            case.status, case.closed_at = CaseStatus.CLOSED, at
        await writer.emit(
            session,
            CaseClosed(
                case_id=round_.case_id,
                round=round_.round,
                min_temp_c=round_.min_temp_c,
                satisfaction=satisfaction,
                closed_at=at,
                unreached=round_.unreached,
            ),
            key=round_.case_id,
            at=at,
        )
    after_commit(session, metrics.VERDICTS.labels(round_.district_id, decision, round_.reason or "").inc)
    for unit_id in round_.unit_ids:
        after_commit(session, metrics.UNIT_ROUNDS.labels(unit_id, decision).inc)


# -- overdue ---------------------------------------------------------------------------------------------------------


async def visit_overdue(session: AsyncSession, writer: OutboxWriter, *, visit_id: str, now: datetime) -> Visit | None:
    """The deadline passed with the visit still open: mark it and escalate it to the community (once)."""
    visit = await session.get(Visit, visit_id, with_for_update=True)
    if (
        visit is None
        or not VISIT.allows("mark_overdue", visit.status)
        or visit.overdue_at is not None
        or visit.due_at > now
    ):
        return None
    visit.overdue_at = now
    await writer.emit(
        session,
        VisitOverdue(
            visit_id=visit.id,
            case_id=visit.case_id,
            round=visit.round,
            grid_id=visit.grid_id,
            community_id=visit.community_id,
            street_id=visit.street_id,
            district_id=visit.district_id,
            due_at=visit.due_at,
            overdue_at=now,
            attempts=visit.attempts,
        ),
        key=visit.case_id,
        at=now,
    )
    after_commit(session, metrics.VISITS_OVERDUE.labels(visit.district_id).inc)
    return visit
