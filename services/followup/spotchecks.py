"""每周随机抽核 (double verification): a reproducible weekly sample of each street's closed cases becomes check
tasks for the street task force; a failed check reopens the case and counts against its units."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.followup import domain, metrics, texts
from services.followup.config import FollowupSettings
from services.followup.models import CaseFact, Round, SpotCheck, SpotCheckDraw
from services.followup.schemas import SpotCheckIn
from services.followup.states import CASE, CASE_NOT_CLOSED, ROUND, SPOT_CHECK, CaseStatus, RoundOutcome, SpotCheckStatus
from services.followup.visits import in_scope
from shared.auth import Principal
from shared.contracts.followup import CaseReopened, ReopenReason, SpotCheckRecorded, SpotCheckScheduled
from shared.effects import Effect, apply, count
from shared.errors import Invalid, NotFound
from shared.evidence import Evidence
from shared.ids import new_id
from shared.outbox import OutboxWriter


def check_week(week: str, *, settings: FollowupSettings, at: datetime) -> tuple[datetime, datetime]:
    """The window of a finished ISO week, or a 422 saying what is wrong."""
    try:
        start, end = domain.week_window(week, settings.zone)
    except ValueError as exc:
        raise Invalid("week_invalid", texts.WEEK_INVALID, "week") from exc
    if end > at:
        raise Invalid("week_not_over", texts.WEEK_NOT_OVER, "week")
    return start, end


async def population(session: AsyncSession, *, street_id: str, start: datetime, end: datetime) -> list[Round]:
    """Rounds of the street closed in [start, end) whose case is still closed on that round and not yet checked."""
    checked = select(SpotCheck.case_id).where(SpotCheck.case_id == Round.case_id, SpotCheck.round == Round.round)
    q = (
        select(Round)
        .join(CaseFact, CaseFact.id == Round.case_id)
        .where(
            Round.street_id == street_id,
            Round.outcome == RoundOutcome.CLOSED,
            Round.closed_at >= start,
            Round.closed_at < end,
            CaseFact.status == CaseStatus.CLOSED,
            CaseFact.round == Round.round,
            ~checked.exists(),
        )
        .order_by(Round.case_id, Round.round)
    )
    return list((await session.scalars(q)).all())


async def draw(
    session: AsyncSession,
    writer: OutboxWriter,
    *,
    street_id: str,
    week: str,
    settings: FollowupSettings,
    by: str,
    at: datetime,
) -> SpotCheckDraw:
    """Draw the street's sample for the week — once: drawing again returns the same draw."""
    start, end = check_week(week, settings=settings, at=at)
    existing = await session.get(SpotCheckDraw, (street_id, week))
    if existing is not None:
        return existing
    rounds = await population(session, street_id=street_id, start=start, end=end)
    by_key = {(r.case_id, r.round): r for r in rounds}
    share = settings.spot_check_share_for(street_id)
    sample = domain.spot_check_sample(
        by_key,
        seed=settings.spot_check_seed,
        street_id=street_id,
        week=week,
        share=share,
        minimum=settings.spot_check_minimum,
    )
    won = await session.scalar(
        insert(SpotCheckDraw)
        .values(
            street_id=street_id,
            week=week,
            seed=settings.spot_check_seed,
            share=share,
            population=[list(k) for k in sorted(by_key)],
            sample=[list(k) for k in sample],
            drawn_by=by,
            drawn_at=at,
        )
        .on_conflict_do_nothing()
        .returning(SpotCheckDraw.week)
    )
    if won is None:  # another replica drew it first
        drawn = await session.get(SpotCheckDraw, (street_id, week), populate_existing=True)
        assert drawn is not None
        return drawn
    for key in sample:
        r = by_key[key]
        case = await session.get(CaseFact, r.case_id)
        assert case is not None and r.closed_at is not None
        check = SpotCheck(
            id=new_id("SC"),
            street_id=street_id,
            district_id=r.district_id,
            community_id=case.community_id,
            week=week,
            case_id=r.case_id,
            round=r.round,
            household_id=case.household_id,
            building_id=case.building_id,
            unit_ids=r.unit_ids,
            closed_at=r.closed_at,
            standard_c=r.standard_c,
            drawn_at=at,
            status=SpotCheckStatus.PENDING,
            record_mismatch=False,
            photo_refs=[],
        )
        session.add(check)
        await apply(
            session,
            writer,
            Effect(
                at=at,
                event=SpotCheckScheduled(
                    spot_check_id=check.id,
                    case_id=r.case_id,
                    round=r.round,
                    street_id=street_id,
                    week=week,
                    seed=settings.spot_check_seed,
                ),
                key=r.case_id,
                metrics=(count(metrics.SPOT_CHECKS_DRAWN.labels(r.district_id).inc),),
            ),
        )
    drawn = await session.get(SpotCheckDraw, (street_id, week))
    assert drawn is not None
    return drawn


async def streets_closing_in(session: AsyncSession, *, start: datetime, end: datetime) -> list[str]:
    q = select(Round.street_id).where(Round.closed_at >= start, Round.closed_at < end).distinct()
    return sorted((await session.scalars(q)).all())


async def draw_all(
    session: AsyncSession, writer: OutboxWriter, *, week: str, settings: FollowupSettings, by: str, at: datetime
) -> list[SpotCheckDraw]:
    """The weekly draw of every street that closed cases that week (the admin's button and the Monday timer)."""
    start, end = check_week(week, settings=settings, at=at)
    return [
        await draw(session, writer, street_id=street, week=week, settings=settings, by=by, at=at)
        for street in await streets_closing_in(session, start=start, end=end)
    ]


async def checks_of(session: AsyncSession, drawn: SpotCheckDraw) -> list[SpotCheck]:
    q = select(SpotCheck).where(SpotCheck.street_id == drawn.street_id, SpotCheck.week == drawn.week)
    return list((await session.scalars(q.order_by(SpotCheck.case_id, SpotCheck.round))).all())


async def list_checks(
    session: AsyncSession,
    *,
    principal: Principal,
    week: str | None,
    status: str | None,
    street_id: str | None,
    limit: int = 500,
) -> list[SpotCheck]:
    q = select(SpotCheck).where(in_scope(principal, SpotCheck))
    if week:
        q = q.where(SpotCheck.week == week)
    if status:
        q = q.where(SpotCheck.status == status)
    if street_id:
        q = q.where(SpotCheck.street_id == street_id)
    return list((await session.scalars(q.order_by(SpotCheck.week.desc(), SpotCheck.case_id).limit(limit))).all())


async def get(session: AsyncSession, *, check_id: str, principal: Principal, for_update: bool = False) -> SpotCheck:
    q = select(SpotCheck).where(SpotCheck.id == check_id, in_scope(principal, SpotCheck))
    check = await session.scalar(q.with_for_update() if for_update else q)
    if check is None:
        raise NotFound("spot_check", texts.SPOT_CHECK_NOT_FOUND)
    return check


async def record(
    session: AsyncSession,
    writer: OutboxWriter,
    *,
    check_id: str,
    principal: Principal,
    body: SpotCheckIn,
    at: datetime,
    evidence: Evidence | None = None,
) -> SpotCheck:
    """The task force's finding. Every room ≥ the standard, the resident not dissatisfied and the return-visit
    record true to what was found: passed. Anything else fails the check and reopens the case
    (CaseReopened, reason spot_check_failed, for the closed round) — a redo charged to the round's units."""
    check = await get(session, check_id=check_id, principal=principal, for_update=True)
    SPOT_CHECK.check("record", check.status)
    v = domain.verdict(body.room_temps_c, body.satisfaction, standard_c=check.standard_c)
    passed = v.close and not body.record_mismatch
    round_ = await session.get(Round, (check.case_id, check.round), with_for_update=True)
    case = await session.get(CaseFact, check.case_id, with_for_update=True)
    assert round_ is not None and case is not None
    if not passed:
        # The case moved on since the draw (it can only be reopened once): the finding has nothing to reopen.
        ROUND.check("fail_spot_check", round_.outcome)
        CASE.check("fail_spot_check", case.status)
        if case.round != check.round:
            raise CASE_NOT_CLOSED.error()
    if body.photo_refs:
        if evidence is None:
            raise ValueError("photos need the service's evidence store")
        await evidence.accept(
            session,
            body.photo_refs,
            principal=principal,
            subject=f"spot_check:{check.id}",
            case_id=check.case_id,
            window=(check.drawn_at, at),
        )
    check.status = SPOT_CHECK.move("pass" if passed else "fail", check.status)
    check.room_temps_c, check.min_temp_c = body.room_temps_c, v.min_temp_c
    check.satisfaction = body.satisfaction.value if body.satisfaction else None
    check.record_mismatch, check.notes, check.photo_refs = body.record_mismatch, body.notes, body.photo_refs
    check.checked_by, check.checked_at = principal.sub, at
    await apply(
        session,
        writer,
        Effect(
            at=at,
            event=SpotCheckRecorded(
                spot_check_id=check.id,
                case_id=check.case_id,
                round=check.round,
                passed=passed,
                room_temps_c=body.room_temps_c,
                satisfaction=body.satisfaction,
                record_mismatch=body.record_mismatch,
                checked_by=check.checked_by,
                checked_at=at,
            ),
            key=check.case_id,
            metrics=(count(metrics.SPOT_CHECKS_RECORDED.labels(check.district_id, check.status).inc),),
        ),
    )
    if passed:
        return check
    round_.outcome = ROUND.move("fail_spot_check", round_.outcome)
    round_.reason, round_.reopened_at = ReopenReason.SPOT_CHECK_FAILED.value, at
    case.status, case.closed_at = CASE.move("fail_spot_check", case.status), None
    await apply(
        session,
        writer,
        Effect(
            at=at,
            event=CaseReopened(
                case_id=check.case_id,
                round=check.round,
                reason=ReopenReason.SPOT_CHECK_FAILED,
                min_temp_c=v.min_temp_c,
                satisfaction=body.satisfaction,
                reopened_at=at,
                spot_check_id=check.id,
            ),
            key=check.case_id,
            metrics=(
                count(metrics.VERDICTS.labels(check.district_id, RoundOutcome.REOPENED, "spot_check_failed").inc),
                *(count(metrics.UNIT_ROUNDS.labels(unit_id, "spot_check_failed").inc) for unit_id in round_.unit_ids),
            ),
        ),
    )
    return check
