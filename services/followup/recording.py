"""Recording a return visit and deciding its round: another attempt when the resident was not reached, else the
visit's verdict — and once the round's visits allow it, 办结 (CaseClosed) or 发回重办 (CaseReopened). Each takes
the session of one transaction; the caller commits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.followup import domain, metrics, texts
from services.followup.config import FollowupSettings
from services.followup.domain import Outcome
from services.followup.models import CaseFact, Round, Visit, timers
from services.followup.scheduling import VISIT_DUE
from services.followup.schemas import VisitIn
from services.followup.states import ROUND, VISIT, CaseStatus, RoundOutcome, VisitStatus
from services.followup.visits import get
from shared.auth import Principal
from shared.contracts.common import Satisfaction
from shared.contracts.followup import CaseClosed, CaseReopened, ReopenReason, VisitRecorded, VisitUnreached
from shared.effects import Arm, Effect, Stop, apply, count
from shared.errors import Invalid
from shared.events import EventPayload
from shared.evidence import Evidence
from shared.outbox import OutboxWriter


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
        await apply(
            session,
            writer,
            Effect(
                at=at,
                event=VisitUnreached(
                    visit_id=visit.id,
                    case_id=visit.case_id,
                    round=visit.round,
                    attempt=visit.attempts,
                    visited_by=principal.sub,
                    visited_at=at,
                    due_at=visit.due_at,
                ),
                key=visit.case_id,
                # An overdue visit has escalated already: its clock is not armed again.
                arms=(Arm(timers, VISIT_DUE, visit.id, visit.due_at),) if visit.overdue_at is None else (),
                metrics=(count(metrics.VISITS_RECORDED.labels(district, metrics.UNREACHED).inc),),
            ),
        )
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
    await apply(
        session,
        writer,
        Effect(
            at=at,
            event=VisitRecorded(
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
            stops=(Stop(timers, visit.id, (VISIT_DUE,)),),
            metrics=(count(metrics.VISITS_RECORDED.labels(district, visit.status).inc), *_visit_counts(visit)),
        ),
    )
    await _decide_round(session, writer, round_, visit, at)
    return visit, round_


def _visit_counts(visit: Visit) -> list[Callable[[], None]]:
    """Each convened unit's share of a concluded visit: the answer, whether the room met the standard, its mean."""
    temps = visit.room_temps_c or []
    compliant = str(bool(temps) and min(temps) >= visit.standard_c).lower()
    answer = visit.satisfaction or "none"
    moves: list[Callable[[], None]] = []
    for unit_id in visit.unit_ids:
        moves.append(count(metrics.UNIT_VISITS.labels(unit_id, answer, compliant).inc))
        if temps:
            moves.append(count(metrics.UNIT_VISIT_TEMP.labels(unit_id).observe, sum(temps) / len(temps)))
    return moves


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
        cancelled: list[Effect] = []
        for other in siblings:
            if VISIT.allows("cancel", other.status):
                other.status, other.concluded_at = VISIT.move("cancel", other.status), at
                cancelled.append(
                    Effect(
                        at=at,
                        stops=(Stop(timers, other.id, (VISIT_DUE,)),),
                        metrics=(count(metrics.VISITS_RECORDED.labels(other.district_id, other.status).inc),),
                    )
                )
        if case is not None and case.round == round_.round:
            case.status = CaseStatus.REOPENED
        await apply(session, writer, *cancelled)
        verdict: EventPayload = CaseReopened(
            case_id=round_.case_id,
            round=round_.round,
            reason=reason,
            min_temp_c=round_.min_temp_c,
            satisfaction=satisfaction,
            reopened_at=at,
        )
    else:
        round_.closed_at = at
        if case is not None and case.round == round_.round:
            case.status, case.closed_at = CaseStatus.CLOSED, at
        verdict = CaseClosed(
            case_id=round_.case_id,
            round=round_.round,
            min_temp_c=round_.min_temp_c,
            satisfaction=satisfaction,
            closed_at=at,
            unreached=round_.unreached,
        )
    await apply(
        session,
        writer,
        Effect(
            at=at,
            event=verdict,
            key=round_.case_id,
            metrics=(
                count(metrics.VERDICTS.labels(round_.district_id, decision, round_.reason or "").inc),
                *(count(metrics.UNIT_ROUNDS.labels(unit_id, decision).inc) for unit_id in round_.unit_ids),
            ),
        ),
    )
